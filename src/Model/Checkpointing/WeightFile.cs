using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.SafeTensors;

namespace OpenMoE.Model.Checkpointing;

/// <summary>
/// Model weights on disk, opened for loading: a checkpoint folder, a run folder (its latest
/// checkpoint), or Hugging Face safetensors (one file, or a folder with an index). Opening checks
/// the spec, every tensor name and shape and (for checkpoints) every checksum before any weight
/// is handed out, so a bad file never half-loads a model.
/// </summary>
public sealed class WeightFile : IDisposable
{
    private readonly CheckpointReader? _checkpoint;
    private readonly SafeTensorsSet? _safeTensors;
    private readonly Dictionary<string, TensorDescriptor> _tensors;

    private WeightFile(ModelSpecInfo spec, string description, CheckpointReader? checkpoint, SafeTensorsSet? safeTensors,
        IReadOnlyList<TensorDescriptor> tensors)
    {
        Spec = spec;
        Description = description;
        _checkpoint = checkpoint;
        _safeTensors = safeTensors;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The spec the weights belong to.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>One line for users: what was opened.</summary>
    public string Description { get; }

    /// <summary>The checkpoint's training state, if it has one.</summary>
    public TrainingState? TrainingState => _checkpoint?.TrainingState;

    /// <summary>The checkpoint reader (null for safetensors), for callers that restore optimizer tensors.</summary>
    public CheckpointReader? Checkpoint => _checkpoint;

    /// <summary>
    /// Opens <paramref name="path"/>. <paramref name="expectedSpec"/> may be null when the file records
    /// its spec; when both are known they must agree. A checkpoint's every checksum is verified first
    /// unless <paramref name="verifyChecksums"/> is false (<c>--trust-checksums</c>; the manifest is
    /// always checked, and streamed reads still check each chunk they read).
    /// </summary>
    public static WeightFile Open(string path, ModelSpecInfo? expectedSpec, bool verifyChecksums = true)
    {
        if (SafeTensorsSet.LooksLikeSafeTensors(path))
            return OpenSafeTensors(path, expectedSpec);
        var reader = CheckpointReader.Open(CheckpointRun.Resolve(path));
        try
        {
            var spec = ResolveSpec(reader.Spec, expectedSpec, reader.Path);
            var expected = Expected(spec, name => reader.Contains(name) ? reader.GetDescriptor(name).DType : TensorDType.F32);
            reader.ValidateLayout(new SpecIdentity(spec.Name, spec.SpecHash), expected, allowOptimizerState: true);
            if (verifyChecksums)
                reader.VerifyChecksums();
            return new WeightFile(spec, $"checkpoint {reader.Path} (step {reader.Metadata.Step})", reader, null, reader.Tensors);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps a checkpoint for use in place (null for safetensors, which are copied): fp32 tensors stored in
    /// one chunk on a 4-byte boundary get their mapped address, the rest 0 (copied). The caller owns the map;
    /// it outlives this file (<see cref="OpenMoE.Model.Network.DeviceWeights"/> disposes it).
    /// </summary>
    public (CheckpointMemoryMap Map, OpenMoE.Model.Network.TensorAddress Address)? MapInPlace()
    {
        if (_checkpoint is null)
            return null;
        var map = CheckpointMemoryMap.Open(_checkpoint);
        return (map, parameter => _tensors[parameter.Name].DType == TensorDType.F32 && map.TryGet(parameter.Name, sizeof(float), out var address, out _) ? address : 0);
    }

    /// <summary>The values of one parameter as fp32, in the parameter table's shape.</summary>
    public float[] Read(ParameterInfo parameter)
    {
        var descriptor = _tensors[parameter.Name];
        var bytes = new byte[descriptor.ByteLength];
        if (_checkpoint is not null)
            _checkpoint.ReadTensor(parameter.Name, bytes);
        else
            _safeTensors!.ReadTensor(parameter.Name, bytes);
        return TensorDecoding.ToFloats(descriptor.DType, bytes);
    }

    /// <summary>Streams one parameter as fp32 in pieces (for large tensors; see <see cref="OpenMoE.Model.Network.DeviceWeights.Load(OpenMoE.Runtime.Devices.ComputeDevice, ModelSpecInfo, OpenMoE.Model.Network.TensorStreamer)"/>).</summary>
    public void Stream(ParameterInfo parameter, OpenMoE.Model.Network.TensorChunkSink sink) => Stream(parameter.Name, sink);

    /// <summary>Streams any tensor of the file (a parameter, optimizer state) as fp32 in pieces, in order.</summary>
    public void Stream(string name, OpenMoE.Model.Network.TensorChunkSink sink)
    {
        var dtype = _tensors[name].DType;
        int size = dtype.ElementSize();
        // Pieces need not end on an element boundary (a tensor may continue in the next shard):
        // the bytes of a split element wait in `pending` for the next piece.
        var pending = new byte[size];
        int pendingLength = 0;
        float[] decoded = [];
        TensorPieceSink pieces = (_, piece) =>
        {
            if (pendingLength > 0)
            {
                int take = Math.Min(size - pendingLength, piece.Length);
                piece[..take].CopyTo(pending.AsSpan(pendingLength));
                pendingLength += take;
                piece = piece[take..];
                if (pendingLength < size)
                    return;
                sink([TensorDecoding.ToFloats(dtype, pending)[0]]);
                pendingLength = 0;
            }
            int whole = piece.Length / size * size;
            if (dtype == TensorDType.F32)
            {
                // fp32 on disk is the values already (little-endian): no decoding, no buffer.
                sink(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(piece[..whole]));
            }
            else
            {
                if (decoded.Length < whole / size)
                {
                    if (decoded.Length > 0)
                        System.Buffers.ArrayPool<float>.Shared.Return(decoded);
                    decoded = System.Buffers.ArrayPool<float>.Shared.Rent(whole / size);
                }
                TensorDecoding.Decode(dtype, piece[..whole], decoded);
                sink(decoded.AsSpan(0, whole / size));
            }
            piece[whole..].CopyTo(pending);
            pendingLength = piece.Length - whole;
        };
        try
        {
            if (_checkpoint is not null)
                _checkpoint.ReadTensorInPieces(name, pieces);
            else
                _safeTensors!.ReadTensorInPieces(name, pieces);
        }
        finally
        {
            if (decoded.Length > 0)
                System.Buffers.ArrayPool<float>.Shared.Return(decoded);
        }
    }

    private static WeightFile OpenSafeTensors(string path, ModelSpecInfo? expectedSpec)
    {
        var set = SafeTensorsSet.Open(path);
        try
        {
            SpecIdentity? recorded = set.Metadata.TryGetValue(SafeTensorsConverter.SpecNameKey, out var name)
                && set.Metadata.TryGetValue(SafeTensorsConverter.SpecHashKey, out var hash) ? new SpecIdentity(name, hash) : null;
            var spec = recorded is null
                ? expectedSpec ?? throw new ArgumentException($"'{path}' does not record a model spec: pass --spec NAME.")
                : ResolveSpec(recorded, expectedSpec, path);
            var present = set.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
            foreach (var descriptor in Expected(spec, n => present.TryGetValue(n, out var t) ? t.DType : TensorDType.F32))
            {
                if (!present.TryGetValue(descriptor.Name, out var actual))
                    throw new CheckpointException(CheckpointErrorKind.MissingTensor, path, descriptor.Name,
                        $"spec {spec.Name} needs this tensor but the file lacks it.", "Export the weights of this spec, or pick the matching --spec.");
                if (!actual.Shape.SequenceEqual(descriptor.Shape))
                    throw new CheckpointException(CheckpointErrorKind.ShapeMismatch, path, descriptor.Name,
                        $"shape {actual.ShapeText} differs from {descriptor.ShapeText} in spec {spec.Name}.", "Check that the file belongs to this spec.");
            }
            return new WeightFile(spec, $"safetensors {path}", null, set, set.Tensors);
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private static ModelSpecInfo ResolveSpec(SpecIdentity recorded, ModelSpecInfo? expected, string path)
    {
        var spec = expected ?? ModelSpecs.TryFind(recorded.Name)
            ?? throw new ArgumentException($"'{path}' was saved for spec '{recorded.Name}', which this build does not know (see `openmoe specs`).");
        if (!string.Equals(spec.Name, recorded.Name, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointErrorKind.SpecMismatch, path, null,
                $"the weights are for spec '{recorded.Name}', not '{spec.Name}'.", $"Use --spec {recorded.Name}, or the weights of {spec.Name}.");
        if (!string.Equals(spec.SpecHash, recorded.Hash, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointErrorKind.SpecMismatch, path, null,
                $"spec '{spec.Name}' has changed since these weights were saved (hash {recorded.Hash}, now {spec.SpecHash}).",
                "Use the code version that saved them.");
        return spec;
    }

    private static List<TensorDescriptor> Expected(ModelSpecInfo spec, Func<string, TensorDType> dtypeOf) =>
        spec.Parameters.Select(p => new TensorDescriptor(p.Name, dtypeOf(p.Name), p.Shape.ToArray())).ToList();

    /// <inheritdoc />
    public void Dispose()
    {
        _checkpoint?.Dispose();
        _safeTensors?.Dispose();
    }
}
