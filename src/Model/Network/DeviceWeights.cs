using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

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
    /// Uploads one tensor per parameter, asking <paramref name="source"/> for each (streaming: one host
    /// tensor alive at a time). A tensor of the wrong length is an <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, Func<ParameterInfo, float[]> source)
    {
        var weights = new DeviceWeights(spec);
        try
        {
            foreach (var parameter in spec.Parameters)
            {
                var data = source(parameter);
                if (data.LongLength != parameter.Elements)
                    throw new ArgumentException(
                        $"Weight '{parameter.Name}' has {data.LongLength:N0} values but spec {spec.Name} needs shape " +
                        $"[{string.Join(", ", parameter.Shape)}] = {parameter.Elements:N0}. Check that the weights belong to this spec.");
                weights._buffers[parameter.Name] = device.Upload(data, parameter.Name);
            }
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

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
