using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// An optimizer's named state tensors in device buffers, zero at the start: downloaded for a
/// checkpoint, uploaded on resume (a missing or wrongly sized tensor is a clear error).
/// </summary>
internal sealed class OptimizerState(ComputeDevice device, string optimizer) : IDisposable
{
    private readonly Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>> _buffers = new(StringComparer.Ordinal);

    /// <summary>A zeroed state tensor of <paramref name="elements"/> floats.</summary>
    public ArrayView<float> Add(string name, long elements)
    {
        var buffer = device.Allocate<float>(Math.Max(1, elements), $"{optimizer} state {name}");
        buffer.MemSetToZero();
        _buffers.Add(name, buffer);
        return buffer.View.SubView(0, elements);
    }

    /// <summary>Host copies of every state tensor.</summary>
    public IReadOnlyDictionary<string, float[]> Download()
    {
        device.Synchronize();
        return _buffers.ToDictionary(e => e.Key, e => e.Value.GetAsArray1D(), StringComparer.Ordinal);
    }

    /// <summary>Uploads every state tensor from <paramref name="state"/>.</summary>
    public void Restore(IReadOnlyDictionary<string, float[]> state)
    {
        foreach (var (name, buffer) in _buffers)
        {
            if (!state.TryGetValue(name, out var source) || source.LongLength != buffer.Length)
                throw new InvalidDataException($"{optimizer} state '{name}' is missing or has the wrong size in the checkpoint.");
            buffer.View.CopyFromCPU(source);
        }
        device.Synchronize();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var buffer in _buffers.Values)
            buffer.Dispose();
    }
}
