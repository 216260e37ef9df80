using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
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
/// Shapes are checked against the generated parameter table when loading. Under expert parallelism
/// the weights hold only one shard of the routed experts (<see cref="Experts"/>): the other experts'
/// tensors are absent, and OpenMoE's stacked expert tensors [E, ...] hold only the shard's slices.
/// </summary>
public sealed class DeviceWeights : IDisposable
{
    private readonly Dictionary<string, (MemoryBuffer Buffer, ArrayView<float> View)> _buffers = new(StringComparer.Ordinal);
    private readonly List<ParameterInfo> _held = [];
    /// <summary>What keeps in-place tensors valid (a memory map), released with the weights.</summary>
    private CheckpointMemoryMap? _inPlaceOwner;

    private DeviceWeights(ModelSpecInfo spec, ExpertShard experts)
    {
        Parameters = new LayerParameters(spec);
        Experts = experts;
    }

    /// <summary>Tensors used in place (memory-mapped on the CPU accelerator) rather than copied.</summary>
    public int InPlaceTensors { get; private set; }

    /// <summary>The parameter table these weights follow.</summary>
    public LayerParameters Parameters { get; }

    /// <summary>The routed experts held (all of them unless loaded for one expert-parallel rank).</summary>
    public ExpertShard Experts { get; }

    /// <summary>
    /// The tensors held, in spec order, with the shapes held: a stacked expert tensor [E, ...] of a shard
    /// is [Count, ...]. What the optimizer and clipping run over (every tensor, in one process).
    /// </summary>
    public IReadOnlyList<ParameterInfo> Held => _held;

    /// <summary>True when these weights hold <paramref name="parameter"/> (all or, for a stacked expert tensor, the shard's part).</summary>
    public bool Holds(ParameterInfo parameter) => _buffers.ContainsKey(parameter.Name);

    /// <summary>
    /// Uploads every parameter, streaming each tensor's values from <paramref name="source"/> in order
    /// and in chunks, so loading never holds more than one chunk of a tensor on the host. A tensor
    /// with the wrong number of values is an <see cref="ArgumentException"/> naming it. With
    /// <paramref name="experts"/>, only that shard of the routed experts is uploaded (the source still
    /// streams whole stacked tensors; the values of other experts are skipped).
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, TensorStreamer source, ExpertShard? experts = null) =>
        Load(device, spec, source, null, null, experts);

    /// <summary>
    /// As <see cref="Load(ComputeDevice, ModelSpecInfo, TensorStreamer, ExpertShard?)"/>, but on the CPU accelerator a
    /// tensor that <paramref name="inPlace"/> gives an address for is used at that address, with no copy
    /// and no allocation (a memory-mapped checkpoint: the OS pages it in as kernels touch it).
    /// <paramref name="owner"/> keeps those addresses valid; the weights dispose it (also on failure).
    /// </summary>
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, TensorStreamer source, TensorAddress? inPlace, CheckpointMemoryMap? owner,
        ExpertShard? experts = null)
    {
        int expertCount = spec.Config.Experts;
        var shard = experts ?? ExpertShard.All(expertCount);
        if (expertCount > 0 && (shard.First < 0 || shard.Count < 1 || shard.End > expertCount))
        {
            owner?.Dispose();
            throw new ArgumentException($"Spec {spec.Name} has {expertCount} experts; cannot hold {shard}.");
        }
        var weights = new DeviceWeights(spec, shard) { _inPlaceOwner = owner };
        try
        {
            foreach (var parameter in spec.Parameters)
            {
                if (!shard.Holds(parameter))
                    continue;
                // A stacked expert tensor [E, ...] keeps the shard's slices of its values.
                bool stacked = ExpertTensors.IsStacked(parameter);
                var (keepFrom, kept) = stacked ? shard.ShareOf(parameter.Elements, expertCount) : (0L, parameter.Elements);
                weights._held.Add(!stacked || shard.IsAll(expertCount) ? parameter : parameter with { Shape = parameter.Shape.SetItem(0, shard.Count) });
                IntPtr address = device.Kind == DeviceKind.Cpu && inPlace is not null ? inPlace(parameter) : 0;
                if (address != 0)
                {
                    var mapped = CPUMemoryBuffer.Create(device.Accelerator, address + (nint)(keepFrom * sizeof(float)), kept, sizeof(float));
                    weights._buffers[parameter.Name] = (mapped, mapped.AsArrayView<float>(0, kept));
                    weights.InPlaceTensors++;
                    continue;
                }
                var buffer = device.Allocate<float>(kept, parameter.Name);
                weights._buffers[parameter.Name] = (buffer, buffer.View);
                long filled = 0;
                source(parameter, chunk =>
                {
                    if (filled + chunk.Length > parameter.Elements)
                        throw WrongLength(spec, parameter, $"more than {parameter.Elements:N0}");
                    long from = Math.Max(filled, keepFrom), to = Math.Min(filled + chunk.Length, keepFrom + kept);
                    // The span overload pins the chunk while it copies; the ref overload does not, and a
                    // garbage collection in the middle of the copy could move a managed chunk under it.
                    if (to > from)
                        ((ArrayView<float>)buffer.View).SubView(from - keepFrom, to - from)
                            .CopyFromCPU(device.Accelerator.DefaultStream, chunk.Slice((int)(from - filled), (int)(to - from)));
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
    public static DeviceWeights Load(ComputeDevice device, ModelSpecInfo spec, Func<ParameterInfo, float[]> source, ExpertShard? experts = null) =>
        Load(device, spec, (parameter, sink) => sink(source(parameter)), null, null, experts);

    private static ArgumentException WrongLength(ModelSpecInfo spec, ParameterInfo parameter, string got) => new(
        $"Weight '{parameter.Name}' has {got} values but spec {spec.Name} needs shape " +
        $"[{string.Join(", ", parameter.Shape)}] = {parameter.Elements:N0}. Check that the weights belong to this spec.");

    /// <summary>
    /// Throws the checkpoint's typed error when a file behind in-place tensors changed since it was mapped
    /// (<see cref="CheckpointMemoryMap.Check"/>): run before every forward, so a truncated file is an error, not a crash.
    /// </summary>
    public void CheckInPlace() => _inPlaceOwner?.Check();

    /// <summary>The whole tensor <paramref name="parameter"/> (of a stacked expert tensor: the shard's slices).</summary>
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
