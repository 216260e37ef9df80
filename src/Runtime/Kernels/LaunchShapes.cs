using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Grid and group sizes for the grid-stride kernels; grids are capped at what the device runs
/// at once and each thread strides over the rest, which keeps the CPU accelerator's OS-thread
/// count small. The two devices want opposite memory patterns: CUDA wants neighbouring threads
/// on neighbouring elements (coalescing), the CPU wants each thread on one contiguous block
/// (threads on different cores writing one cache line slow each other down), and CPU group
/// barriers cost far more than the work between them. Hence <see cref="ElementSpan"/> and
/// <see cref="RowGroupSize"/>.
/// </summary>
public sealed class LaunchShapes
{
    /// <summary>Threads per group on CUDA (8 warps).</summary>
    public const int CudaGroupSize = 256;

    private readonly int _maxThreads;
    private readonly bool _isCpu;

    /// <summary>Derives the shapes from the accelerator's limits.</summary>
    public LaunchShapes(Accelerator accelerator)
    {
        _isCpu = accelerator.AcceleratorType == AcceleratorType.CPU;
        int limit = Math.Min(accelerator.MaxNumThreadsPerGroup, Math.Min(CudaGroupSize, GroupReduce.MaxGroupSize));
        GroupSize = (int)BitOperations.RoundUpToPowerOf2((uint)limit + 1) / 2;
        RowGroupSize = _isCpu ? 1 : GroupSize;
        _maxThreads = Math.Max(GroupSize, accelerator.NumMultiprocessors * Math.Max(GroupSize, accelerator.MaxNumThreadsPerMultiprocessor));
    }

    /// <summary>Threads per group for elementwise kernels (a power of two).</summary>
    public int GroupSize { get; }

    /// <summary>Threads cooperating on one row in row kernels: 1 on the CPU (no barriers), <see cref="GroupSize"/> on CUDA.</summary>
    public int RowGroupSize { get; }

    /// <summary>For a loop over <paramref name="work"/> independent items.</summary>
    public KernelConfig Elements(long work)
    {
        long groups = Math.Clamp((work + GroupSize - 1) / GroupSize, 1, _maxThreads / GroupSize);
        return new KernelConfig((int)groups, GroupSize);
    }

    /// <summary>
    /// Consecutive elements each thread takes per stride: 1 on CUDA (coalesced grid-stride),
    /// an equal contiguous share of <paramref name="work"/> per thread on the CPU.
    /// </summary>
    public int ElementSpan(long work, KernelConfig config)
    {
        if (!_isCpu)
            return 1;
        long threads = (long)config.GridDim.X * config.GroupDim.X;
        return (int)Math.Max(1, (work + threads - 1) / threads);
    }

    /// <summary>For a loop over <paramref name="rows"/> rows, one group of <see cref="RowGroupSize"/> threads per row.</summary>
    public KernelConfig Rows(long rows) => new((int)Math.Clamp(rows, 1, _maxThreads / RowGroupSize), RowGroupSize);

    /// <summary>For a loop over <paramref name="rows"/> rows with one thread per row (the packed RMSNorm and log-softmax, whose rows are sequential sums).</summary>
    public KernelConfig SingleThreadRows(long rows) => new((int)Math.Clamp(rows, 1, _maxThreads), 1);

    /// <summary>A single group (small reductions whose order must be fixed).</summary>
    public KernelConfig SingleGroup() => new(1, RowGroupSize);
}
