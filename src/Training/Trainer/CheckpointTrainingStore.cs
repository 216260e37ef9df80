using System.Text.Json;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using CheckpointState = OpenMoE.Runtime.Checkpoints.TrainingState;

namespace OpenMoE.Training;

/// <summary>
/// Training checkpoints in the MessagePack checkpoint format (docs/checkpoint-format.md):
/// RUN/checkpoints/step-NNNNNNNN/, each holding the weights under their Hugging Face names, the
/// optimizer tensors under <c>optim/</c>, the expert bias under <c>routing/</c>, and the trainer's state (step, seed, data-pipeline
/// position) as JSON in the checksummed manifest. Saves are atomic, check the free space first, and
/// keep the newest <paramref name="keepLast"/> (never deleting the one just written); loading verifies
/// spec, layout and every checksum first, and falls back to older checkpoints when the newest is damaged.
/// </summary>
/// <param name="spec">The spec trained.</param>
/// <param name="runDirectory">The run folder (checkpoints go to RUN/checkpoints).</param>
/// <param name="keepLast">How many checkpoints to keep.</param>
/// <param name="freeBytes">Free bytes on the volume of a folder (default: <see cref="DriveInfo"/>; tests simulate a full disk).</param>
public sealed class CheckpointTrainingStore(ModelSpecInfo spec, string runDirectory, int keepLast = 3, Func<string, long>? freeBytes = null) : ITrainingStore
{
    private const string StateKey = "openmoe.trainer_state";
    // Room for the manifest, shard headers and framing on top of the tensor bytes.
    private const long OverheadBytes = 4 << 20;
    private readonly CheckpointRun _run = new(Path.Combine(runDirectory, CheckpointRun.RunCheckpointsFolder), keepLast);
    private readonly Func<string, long> _freeBytes = freeBytes ?? (path => new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace);
    private readonly List<string> _skipped = [];

    /// <summary>Checkpoints <see cref="LoadLatest"/> passed over because they did not verify, each with the reason.</summary>
    public IReadOnlyList<string> Skipped => _skipped;

    /// <summary>
    /// The trainer state a checkpoint's metadata holds (seed, tokenizer, ...), or null when it is not a
    /// training checkpoint: what analysis and generation check a checkpoint against.
    /// </summary>
    public static TrainingState? StateOf(IReadOnlyDictionary<string, string> extra) =>
        extra.TryGetValue(StateKey, out var json) ? JsonSerializer.Deserialize<TrainingState>(json) : null;

    /// <summary>Metadata key of the tokenizer a checkpoint that is not a training checkpoint was made for (`openmoe upcycle` copies its dense model's).</summary>
    public const string TokenizerKey = "tokenizer";

    /// <summary>The tokenizer a checkpoint records: its trainer state's, else <see cref="TokenizerKey"/>'s; null when it records none.</summary>
    public static string? RecordedTokenizer(IReadOnlyDictionary<string, string> extra) =>
        StateOf(extra)?.Tokenizer ?? (extra.TryGetValue(TokenizerKey, out var name) ? name : null);

    /// <inheritdoc />
    public long? LatestStep => _run.List() is { Count: > 0 } all ? all[^1].Step : null;

    /// <summary>Folder of the checkpoint of <paramref name="step"/> (whether or not it exists).</summary>
    public string FolderOf(long step) => _run.PathForStep(step);

    /// <summary>Folder of the newest checkpoint, or null.</summary>
    public string? LatestPath => _run.Latest();

    /// <inheritdoc />
    public void Save(TrainingCheckpoint checkpoint)
    {
        var state = checkpoint.State;
        var metadata = CheckpointMetadata.Now(state.Step);
        metadata.Extra[StateKey] = JsonSerializer.Serialize(state);
        var summary = new CheckpointState { Step = state.Step, OptimizerName = state.Optimizer };
        if (state.Routing is { } routing)
            metadata.Extra[RoutingCheckpointState.RoutingKey] = routing;
        // Tensors stream from their source piece by piece (from the device, no whole-model copy on the host).
        var optimizer = checkpoint.Optimizer.Keys.Order(StringComparer.Ordinal)
            .Select(name => (new TensorDescriptor(OptimizerTensorNames.Prefix + name, TensorDType.F32, new[] { checkpoint.Optimizer.ElementsOf(name) }),
                (Action<TensorChunkSink>)(sink => checkpoint.Optimizer.Stream(name, sink))));
        var bias = RoutingCheckpointState.Tensors(checkpoint.ExpertBias ?? new Dictionary<int, float[]>())
            .Select(t => (t.Descriptor, (Action<TensorChunkSink>)(sink => sink(t.Values))));
        string path = _run.PathForStep(state.Step);
        RequireFreeSpace(checkpoint, path);
        ModelCheckpoint.Save(path, spec, (p, sink) => checkpoint.Weights.Stream(p.Name, sink), metadata, summary, optimizer.Concat(bias),
            new CheckpointWriteOptions { Overwrite = true });
        _run.Rotate(justWritten: path);
    }

    // A save that cannot fit fails before it writes a byte, instead of filling the disk with a partial folder.
    private void RequireFreeSpace(TrainingCheckpoint checkpoint, string path)
    {
        long needed = OverheadBytes + 4L * (checkpoint.Weights.TotalElements + checkpoint.Optimizer.TotalElements);
        Directory.CreateDirectory(_run.Directory);
        long free = _freeBytes(_run.Directory);
        if (free < needed)
            throw new IOException(
                $"Not enough free space for checkpoint {Path.GetFileName(path)}: it needs {Mebibytes(needed)} and {_run.Directory} has {Mebibytes(free)} free.");
    }

    private static string Mebibytes(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";

    /// <inheritdoc />
    public TrainingCheckpoint? LoadLatest()
    {
        _skipped.Clear();
        foreach (var (_, path) in _run.List().Reverse())
        {
            try
            {
                return Load(path);
            }
            catch (CheckpointException ex) when (ex.Kind == CheckpointErrorKind.SpecMismatch)
            {
                throw new ArgumentException($"--resume: {ex.Message}", ex);
            }
            catch (CheckpointException ex)
            {
                _skipped.Add($"skipped {Path.GetFileName(path)}: {ex.Message}");
            }
        }
        if (_skipped.Count > 0)
            throw new ArgumentException($"--resume: no checkpoint in {_run.Directory} verifies ({string.Join("; ", _skipped)}).");
        return null;
    }

    private TrainingCheckpoint Load(string path)
    {
        using var file = WeightFile.Open(path, spec);
        var reader = file.Checkpoint!;
        if (!reader.Metadata.Extra.TryGetValue(StateKey, out var json))
            throw new CheckpointException(CheckpointErrorKind.Malformed, path, null,
                "it holds weights but no trainer state, so training cannot resume from it.", "Start a new run, or load it with --weights for inference.");
        var state = JsonSerializer.Deserialize<TrainingState>(json)
            ?? throw new CheckpointException(CheckpointErrorKind.Malformed, path, null, "its trainer state is empty.", "Resume from an earlier checkpoint.");
        var weights = spec.Parameters.ToDictionary(p => p.Name, file.Read, StringComparer.Ordinal);
        var optimizer = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var tensor in reader.Tensors.Where(t => OptimizerTensorNames.IsOptimizerTensor(t.Name)))
        {
            var values = new float[tensor.ElementCount];
            reader.ReadTensor(tensor.Name, values);
            optimizer[tensor.Name[OptimizerTensorNames.Prefix.Length..]] = values;
        }
        return new TrainingCheckpoint(state, TensorReads.FromArrays(weights), TensorReads.FromArrays(optimizer), RoutingCheckpointState.ReadBias(reader));
    }
}
