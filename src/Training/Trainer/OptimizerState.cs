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
    private readonly Dictionary<string, (MemoryBuffer1D<float, Stride1D.Dense> Buffer, ArrayView<float> View)> _tensors = new(StringComparer.Ordinal);

    /// <summary>A zeroed state tensor of <paramref name="elements"/> floats.</summary>
    public ArrayView<float> Add(string name, long elements)
    {
        var buffer = device.Allocate<float>(Math.Max(1, elements), $"{optimizer} state {name}");
        buffer.MemSetToZero();
        var view = buffer.View.SubView(0, elements);
        _tensors.Add(name, (buffer, view));
        return view;
    }

    /// <summary>Every state tensor, each downloaded to the host when it is read (<see cref="TensorReads"/>).</summary>
    public TensorReads Download() => TensorReads.FromDevice(device, _tensors.Select(e => (e.Key, e.Value.View)).ToArray());

    /// <summary>Uploads every state tensor from <paramref name="state"/>, streamed piece by piece (no whole-tensor host copy).</summary>
    public void Restore(TensorReads state)
    {
        foreach (var (name, (_, view)) in _tensors)
        {
            if (!state.ContainsKey(name) || state.ElementsOf(name) != view.Length)
                throw new InvalidDataException($"{optimizer} state '{name}' is missing or has the wrong size in the checkpoint.");
            long filled = 0;
            state.Stream(name, piece =>
            {
                // The span overload pins the piece while it copies.
                view.SubView(filled, piece.Length).CopyFromCPU(device.Accelerator.DefaultStream, piece);
                filled += piece.Length;
            });
        }
        device.Synchronize();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (buffer, _) in _tensors.Values)
            buffer.Dispose();
    }
}
