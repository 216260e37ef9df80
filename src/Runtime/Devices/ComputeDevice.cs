using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Kernels;

namespace OpenMoE.Runtime.Devices;

/// <summary>
/// One ILGPU context plus one accelerator, owned together. Create with <see cref="DeviceFactory.Create"/>;
/// launch kernels through <see cref="Ops"/>; dispose to release the device.
/// </summary>
public sealed class ComputeDevice : IDisposable
{
    private long _allocations;
    /// <summary>Every buffer allocated through <see cref="Allocate{T}"/> and not yet seen disposed.</summary>
    private readonly List<MemoryBuffer> _live = [];
    private long _liveBytes;
    private long _peakBytes;

    internal ComputeDevice(Context context, Accelerator accelerator, DeviceKind kind)
    {
        Context = context;
        Accelerator = accelerator;
        Kind = kind;
        Kernels = new KernelCache(accelerator);
        var shapes = new LaunchShapes(accelerator);
        Ops = new KernelOps(accelerator, Kernels, shapes);
        Backward = new BackwardOps(accelerator, Kernels, shapes);
        Routing = new RoutingOps(accelerator, Kernels, shapes);
        Optimizers = new OptimizerOps(accelerator, Kernels, shapes);
    }

    /// <summary>The ILGPU context (algorithms enabled, O2 optimisation).</summary>
    public Context Context { get; }

    /// <summary>The accelerator every buffer and kernel of this device lives on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Cuda or Cpu (never Auto: that is resolved at creation).</summary>
    public DeviceKind Kind { get; }

    /// <summary>Kernels loaded once per accelerator.</summary>
    public KernelCache Kernels { get; }

    /// <summary>Typed launchers for every kernel (the forward pass's entry point).</summary>
    public KernelOps Ops { get; }

    /// <summary>Typed launchers for the backward kernels (training).</summary>
    public BackwardOps Backward { get; }

    /// <summary>Typed launchers for the routing kernels (top-k, capacity, dispatch list, router losses).</summary>
    public RoutingOps Routing { get; }

    /// <summary>Typed launchers for gradient clipping and the optimizers (training on the device's buffers).</summary>
    public OptimizerOps Optimizers { get; }

    /// <summary>One line for users, e.g. <c>cuda: NVIDIA H200 (139.8 GiB, sm_90)</c>.</summary>
    public string Description => DeviceDescription.Describe(Accelerator, Kind);

    /// <summary>
    /// Allocates a dense 1-D buffer of <paramref name="length"/> elements; on failure throws
    /// <see cref="DeviceOutOfMemoryException"/> naming <paramref name="what"/> and the size.
    /// </summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length, string what) where T : unmanaged
    {
        try
        {
            var buffer = Accelerator.Allocate1D<T>(length);
            Interlocked.Increment(ref _allocations);
            Track(buffer);
            return buffer;
        }
        catch (Exception ex) when (ex is OutOfMemoryException or AcceleratorException)
        {
            long bytes = length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            throw new DeviceOutOfMemoryException(
                $"Out of device memory allocating {what}: {length:N0} elements ({bytes / (1024.0 * 1024.0):F1} MiB) " +
                $"on {Description}. Use a smaller batch/sequence or model, or a device with more memory.", ex);
        }
    }

    /// <summary>
    /// Buffers allocated through <see cref="Allocate{T}"/> (and <see cref="Upload{T}"/>) since creation: a test
    /// reads it before and after a training step to prove that steady-state steps allocate no device memory.
    /// </summary>
    public long Allocations => Interlocked.Read(ref _allocations);

    /// <summary>
    /// Bytes of the buffers allocated through <see cref="Allocate{T}"/> that are still alive: the device
    /// memory this process holds, which the memory planner's figures are checked against.
    /// </summary>
    public long LiveBytes
    {
        get { lock (_live) { Prune(); return _liveBytes; } }
    }

    /// <summary>The most <see cref="LiveBytes"/> ever reached (the peak can only rise when a buffer is allocated).</summary>
    public long PeakBytes
    {
        get { lock (_live) return _peakBytes; }
    }

    private void Track(MemoryBuffer buffer)
    {
        lock (_live)
        {
            Prune();
            _live.Add(buffer);
            _liveBytes += buffer.LengthInBytes;
            _peakBytes = Math.Max(_peakBytes, _liveBytes);
        }
    }

    /// <summary>Forgets buffers disposed since the last look (disposal does not pass through here).</summary>
    private void Prune()
    {
        _liveBytes -= _live.Where(b => b.IsDisposed).Sum(b => b.LengthInBytes);
        _live.RemoveAll(b => b.IsDisposed);
    }

    /// <summary>Copies host data into a new device buffer (see <see cref="Allocate{T}"/> for errors).</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] data, string what) where T : unmanaged
    {
        var buffer = Allocate<T>(data.Length, what);
        buffer.CopyFromCPU(data);
        return buffer;
    }

    /// <summary>Waits for every launched kernel to finish.</summary>
    public void Synchronize() => Accelerator.Synchronize();

    /// <inheritdoc />
    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
