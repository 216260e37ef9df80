using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace OpenMoE.Runtime.Devices;

/// <summary>
/// A host array pinned for its whole life and wrapped once as a buffer of the accelerator, so a
/// transfer is a plain view copy. ILGPU's CopyToCPU/CopyFromCPU do the same wrapping (a
/// <see cref="CPUMemoryBuffer"/> over the pinned host memory), but per call: 80-112 bytes of
/// managed garbage per transfer, which a steady training step must not produce. "Pinned" means
/// GC-pinned (the array never moves), not CUDA page-locked: on CUDA these copies are pageable.
/// Dispose it: the pin is what keeps a large array from being collected or moved.
/// </summary>
public sealed class PinnedHostArray<T> : IDisposable where T : unmanaged
{
    private GCHandle _pin;
    private readonly MemoryBuffer _wrapper;

    /// <summary>Pins <paramref name="array"/> (kept by the caller) until <see cref="Dispose"/>.</summary>
    public PinnedHostArray(Accelerator accelerator, T[] array)
    {
        Array = array;
        _pin = GCHandle.Alloc(array, GCHandleType.Pinned);
        _wrapper = CPUMemoryBuffer.Create(accelerator, _pin.AddrOfPinnedObject(), Math.Max(1, array.LongLength), System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        View = _wrapper.AsArrayView<T>(0, array.LongLength);
    }

    /// <summary>The host array.</summary>
    public T[] Array { get; }

    /// <summary>The host array as a view of the accelerator.</summary>
    public ArrayView<T> View { get; }

    /// <summary>Copies the first <c>target.Length</c> elements to <paramref name="target"/> on the device.</summary>
    public void CopyTo(ArrayView<T> target)
    {
        View.SubView(0, target.Length).CopyTo(target);
        HostTransfers.Add(target.LengthInBytes);
    }

    /// <summary>Copies <paramref name="source"/> from the device into the first elements; the caller synchronizes before reading.</summary>
    public void CopyFrom(ArrayView<T> source)
    {
        source.CopyTo(View.SubView(0, source.Length));
        HostTransfers.Add(source.LengthInBytes);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _wrapper.Dispose();
        if (_pin.IsAllocated)
            _pin.Free();
    }
}
