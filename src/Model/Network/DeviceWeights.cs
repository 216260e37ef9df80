using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>Receives the next values of one tensor, in order.</summary>
public delegate void TensorChunkSink(ReadOnlySpan<float> chunk);

/// <summary>Streams all values of <paramref name="parameter"/>, in order, into <paramref name="sink"/> (any chunk sizes).</summary>
public delegate void TensorStreamer(ParameterInfo parameter, TensorChunkSink sink);

/// <summary>
/// Every parameter of one spec in fp32 device buffers, keyed by its Hugging Face name.
/// Shapes are checked against the generated parameter table when loading.
/// </summary>
public sealed class DeviceWeights : IDisposable
{
    private readonly Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>> _buffers = new(StringComparer.Ordinal);

    private DeviceWeights(ModelSpecInfo spec) => Parameters = new LayerParameters(spec);

    /// <summary>The parameter table these weights follow.</summary>
    public LayerParameters Parameters { get; }

    /// <summary>
    /// Uploads every parameter, streaming each tensor's values from <paramref name="source"/> in order
    /// and in chunks, so loading never holds more than one chunk of a tensor on the host. A tensor
    /// with the wrong number of values is an <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, TensorStreamer source)
    {
        var weights = new DeviceWeights(spec);
        try
        {
            foreach (var parameter in spec.Parameters)
            {
                var buffer = device.Allocate<float>(parameter.Elements, parameter.Name);
                weights._buffers[parameter.Name] = buffer;
                long filled = 0;
                source(parameter, chunk =>
                {
                    if (filled + chunk.Length > parameter.Elements)
                        throw WrongLength(spec, parameter, $"more than {parameter.Elements:N0}");
                    // The span overload pins the chunk while it copies; the ref overload does not, and a
                    // garbage collection in the middle of the copy could move a managed chunk under it.
                    ((ArrayView<float>)buffer.View).SubView(filled, chunk.Length).CopyFromCPU(device.Accelerator.DefaultStream, chunk);
                    filled += chunk.Length;
                });
                if (filled != parameter.Elements)
                    throw WrongLength(spec, parameter, $"{filled:N0}");
            }
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Uploads every parameter from whole host arrays (small models and tests).</summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, Func<ParameterInfo, float[]> source) =>
        Load(device, spec, (parameter, sink) => sink(source(parameter)));

    private static ArgumentException WrongLength(ModelSpecInfo spec, ParameterInfo parameter, string got) => new(
        $"Weight '{parameter.Name}' has {got} values but spec {spec.Name} needs shape " +
        $"[{string.Join(", ", parameter.Shape)}] = {parameter.Elements:N0}. Check that the weights belong to this spec.");

    /// <summary>The whole tensor <paramref name="parameter"/>.</summary>
    public ArrayView<float> this[ParameterInfo parameter] => _buffers[parameter.Name].View;

    /// <summary>The tensor of <paramref name="role"/> in <paramref name="layer"/> (-1 = global).</summary>
    public ArrayView<float> Get(int layer, ParameterRole role, int expert = -1) => this[Parameters.Get(layer, role, expert)];

    /// <summary>Copies one tensor back to the host (for export and tests).</summary>
    public float[] Download(ParameterInfo parameter) => _buffers[parameter.Name].GetAsArray1D();

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var buffer in _buffers.Values)
            buffer.Dispose();
        _buffers.Clear();
    }
}
