using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Grid and group sizes for the grid-stride kernels. Groups are a power of two (the group
/// reductions need it); grids are capped at what the device runs at once, and each thread
/// strides over the rest, which keeps the CPU accelerator's OS-thread count small.
/// </summary>
public sealed class LaunchShapes
{
    /// <summary>Threads per group on CUDA (8 warps).</summary>
    public const int CudaGroupSize = 256;

    private readonly int _maxGroups;

    /// <summary>Derives the shapes from the accelerator's limits.</summary>
    public LaunchShapes(Accelerator accelerator)
    {
        int limit = Math.Min(accelerator.MaxNumThreadsPerGroup, Math.Min(CudaGroupSize, GroupReduce.MaxGroupSize));
        GroupSize = (int)BitOperations.RoundUpToPowerOf2((uint)limit + 1) / 2;
        int groupsPerProcessor = Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / GroupSize);
        _maxGroups = Math.Max(1, accelerator.NumMultiprocessors * groupsPerProcessor);
    }

    /// <summary>Threads per group (a power of two).</summary>
    public int GroupSize { get; }

    /// <summary>For a loop over <paramref name="work"/> independent items, one per logical thread.</summary>
    public KernelConfig Elements(long work)
    {
        long groups = Math.Clamp((work + GroupSize - 1) / GroupSize, 1, _maxGroups);
        return new KernelConfig((int)groups, GroupSize);
    }

    /// <summary>For a loop over <paramref name="rows"/> rows, one thread group per row.</summary>
    public KernelConfig Rows(long rows) => new((int)Math.Clamp(rows, 1, _maxGroups), GroupSize);

    /// <summary>A single group (small reductions whose order must be fixed).</summary>
    public KernelConfig SingleGroup() => new(1, GroupSize);
}
