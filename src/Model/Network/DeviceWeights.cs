using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>Receives the next values of one tensor, in order.</summary>
public delegate void TensorChunkSink(ReadOnlySpan<float> chunk);

/// <summary>Streams all values of <paramref name="parameter"/>, in order, into <paramref name="sink"/> (any chunk sizes).</summary>
public delegate void TensorStreamer(ParameterInfo parameter, TensorChunkSink sink);

/// <summary>
/// The host address of <paramref name="parameter"/>'s fp32 values (row-major, the whole tensor) where they
/// can be used in place, e.g. in a memory-mapped checkpoint; 0 when the tensor must be copied.
/// </summary>
public delegate IntPtr TensorAddress(ParameterInfo parameter);

/// <summary>
/// Every parameter of one spec in fp32 device buffers, keyed by its Hugging Face name.
/// Shapes are checked against the generated parameter table when loading.
/// </summary>
public sealed class DeviceWeights : IDisposable
{
    private readonly Dictionary<string, (MemoryBuffer Buffer, ArrayView<float> View)> _buffers = new(StringComparer.Ordinal);
    /// <summary>What keeps in-place tensors valid (a memory map), released with the weights.</summary>
    private IDisposable? _inPlaceOwner;

    private DeviceWeights(ModelSpecInfo spec) => Parameters = new LayerParameters(spec);

    /// <summary>Tensors used in place (memory-mapped on the CPU accelerator) rather than copied.</summary>
    public int InPlaceTensors { get; private set; }

    /// <summary>The parameter table these weights follow.</summary>
    public LayerParameters Parameters { get; }

    /// <summary>
    /// Uploads every parameter, streaming each tensor's values from <paramref name="source"/> in order
    /// and in chunks, so loading never holds more than one chunk of a tensor on the host. A tensor
    /// with the wrong number of values is an <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, TensorStreamer source) => Load(device, spec, source, null, null);

    /// <summary>
    /// As <see cref="Load(ComputeDevice, ModelSpecInfo, TensorStreamer)"/>, but on the CPU accelerator a
    /// tensor that <paramref name="inPlace"/> gives an address for is used at that address, with no copy
    /// and no allocation (a memory-mapped checkpoint: the OS pages it in as kernels touch it).
    /// <paramref name="owner"/> keeps those addresses valid; the weights dispose it (also on failure).
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, TensorStreamer source, TensorAddress? inPlace, IDisposable? owner)
    {
        var weights = new DeviceWeights(spec) { _inPlaceOwner = owner };
        try
        {
            foreach (var parameter in spec.Parameters)
            {
                IntPtr address = device.Kind == DeviceKind.Cpu && inPlace is not null ? inPlace(parameter) : 0;
                if (address != 0)
                {
                    var mapped = CPUMemoryBuffer.Create(device.Accelerator, address, parameter.Elements, sizeof(float));
                    weights._buffers[parameter.Name] = (mapped, mapped.AsArrayView<float>(0, parameter.Elements));
                    weights.InPlaceTensors++;
                    continue;
                }
                var buffer = device.Allocate<float>(parameter.Elements, parameter.Name);
                weights._buffers[parameter.Name] = (buffer, buffer.View);
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
    public float[] Download(ParameterInfo parameter) => _buffers[parameter.Name].View.Download();

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (buffer, _) in _buffers.Values)
            buffer.Dispose();
        _buffers.Clear();
        _inPlaceOwner?.Dispose();
        _inPlaceOwner = null;
    }
}
