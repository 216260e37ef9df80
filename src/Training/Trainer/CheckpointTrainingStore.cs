using System.Text.Json;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Runtime.Communication;
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
/// Under a parallel layout every rank saves with it at once: each rank of replica 0 writes its own part
/// (rank 0 everything replicated and its experts, the others their experts) and rank 0 commits one
/// manifest when every part is complete (<see cref="CollectiveCheckpointSave"/>). The checkpoint is the
/// same as one process would write, so it resumes with any number of ranks: each loads its own experts.
/// </summary>
/// <param name="spec">The spec trained.</param>
/// <param name="runDirectory">The run folder (checkpoints go to RUN/checkpoints).</param>
/// <param name="keepLast">How many checkpoints to keep.</param>
/// <param name="freeBytes">Free bytes on the volume of a folder (default: <see cref="DriveInfo"/>; tests simulate a full disk).</param>
/// <param name="layout">The job's ranks when the run is expert- or data-parallel; null for one process.</param>
public sealed class CheckpointTrainingStore(ModelSpecInfo spec, string runDirectory, int keepLast = 3, Func<string, long>? freeBytes = null,
    ParallelLayout? layout = null) : ITrainingStore
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
        var world = layout?.World ?? new SingleProcessCommunicator();
        RequireHeldWeights(checkpoint.Weights);
        int writers = layout?.ExpertParallelSize ?? 1;
        // Rank 0 writes every replicated tensor; the other ranks of replica 0 only their experts' tensors.
        var tensors = Tensors(checkpoint).Where(t => world.Rank == 0 || IsRoutedExpert(t.Descriptor.Name)).ToList();
        long bytes = world.Rank < writers ? tensors.Sum(t => t.Descriptor.ByteLength) : 0;
        // The parts share the run folder's volume: rank 0 checks that all of them fit before anyone writes much.
        long allBytes = world.AllGather(bytes).Sum();
        string path = _run.PathForStep(state.Step);
        CollectiveCheckpointSave.Save(world, writers, path, new SpecIdentity(spec.Name, spec.SpecHash), new CheckpointWriteOptions { Overwrite = true },
            writer =>
            {
                if (world.Rank == 0)
                    RequireFreeSpace(allBytes, path);
                // Tensors stream from their source piece by piece (from the device, no whole-model copy on the host).
                foreach (var (descriptor, write) in tensors)
                {
                    var tensor = writer.BeginTensor(descriptor);
                    write(chunk => tensor.Write(chunk));
                    tensor.Complete();
                }
            }, metadata, summary);
        if (world.Rank == 0)
            _run.Rotate(justWritten: path);
    }

    // A save of fewer weights than this rank holds would write a checkpoint that fails only when it is loaded.
    private void RequireHeldWeights(TensorReads weights)
    {
        var shard = layout?.Shard(spec.Config.Experts) ?? ExpertShard.All(spec.Config.Experts);
        foreach (var p in spec.Parameters.Where(shard.Holds))
        {
            long expected = ExpertTensors.IsStacked(p) ? shard.ShareOf(p.Elements, spec.Config.Experts).Count : p.Elements;
            if (!weights.ContainsKey(p.Name) || weights.ElementsOf(p.Name) != expected)
                throw new ArgumentException($"The checkpoint of {spec.Name} needs weight '{p.Name}' with {expected:N0} values on this rank; the trainer handed {(weights.ContainsKey(p.Name) ? $"{weights.ElementsOf(p.Name):N0}" : "none")}.");
        }
    }

    /// <summary>
    /// What this rank holds, in checkpoint order: the weights (a stacked expert tensor as this rank's
    /// experts' share [Count, ...]), the optimizer tensors, the expert bias.
    /// </summary>
    private IEnumerable<(TensorDescriptor Descriptor, Action<TensorChunkSink> Write)> Tensors(TrainingCheckpoint checkpoint)
    {
        foreach (var parameter in spec.Parameters.Where(p => checkpoint.Weights.ContainsKey(p.Name)))
        {
            var shape = parameter.Shape.ToArray();
            long elements = checkpoint.Weights.ElementsOf(parameter.Name);
            if (elements != parameter.Elements)
                shape[0] = elements / (parameter.Elements / shape[0]);
            yield return (new TensorDescriptor(parameter.Name, TensorDType.F32, shape), sink => checkpoint.Weights.Stream(parameter.Name, sink));
        }
        foreach (var name in checkpoint.Optimizer.Keys.Order(StringComparer.Ordinal))
            yield return (new TensorDescriptor(OptimizerTensorNames.Prefix + name, TensorDType.F32, new[] { checkpoint.Optimizer.ElementsOf(name) }),
                sink => checkpoint.Optimizer.Stream(name, sink));
        foreach (var (descriptor, values) in RoutingCheckpointState.Tensors(checkpoint.ExpertBias ?? new Dictionary<int, float[]>()))
            yield return (descriptor, sink => sink(values));
    }

    /// <summary>The parameter a checkpoint tensor belongs to: itself, or the one an optimizer tensor (<c>optim/SLOT/PARAMETER</c>) is state of; null for others.</summary>
    private ParameterInfo? ParameterOf(string tensorName)
    {
        string name = OptimizerTensorNames.IsOptimizerTensor(tensorName) ? OptimizerTensorNames.ParameterOf(tensorName) : tensorName;
        return _parameters.GetValueOrDefault(name);
    }

    private bool IsRoutedExpert(string tensorName) => ParameterOf(tensorName) is { } p && ExpertTensors.IsRoutedExpert(p);

    private readonly Dictionary<string, ParameterInfo> _parameters = spec.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);

    // A save that cannot fit fails before it writes a byte, instead of filling the disk with a partial folder.
    private void RequireFreeSpace(long tensorBytes, string path)
    {
        long needed = OverheadBytes + tensorBytes;
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

    // The tensors stream from the open file when the trainer uploads them (one piece at a time), so a
    // resume holds no host copy of the model; the checkpoint owns the file until the trainer disposes it.
    private TrainingCheckpoint Load(string path)
    {
        var file = WeightFile.Open(path, spec);
        try
        {
            var reader = file.Checkpoint!;
            if (!reader.Metadata.Extra.TryGetValue(StateKey, out var json))
                throw new CheckpointException(CheckpointErrorKind.Malformed, path, null,
                    "it holds weights but no trainer state, so training cannot resume from it.", "Start a new run, or load it with --weights for inference.");
            var state = JsonSerializer.Deserialize<TrainingState>(json)
                ?? throw new CheckpointException(CheckpointErrorKind.Malformed, path, null, "its trainer state is empty.", "Resume from an earlier checkpoint.");
            // A rank reads its own experts only: whole stacked tensors (the weights keep their share), and its share of their optimizer state.
            var shard = layout?.Shard(spec.Config.Experts) ?? ExpertShard.All(spec.Config.Experts);
            var weights = new TensorReads(spec.Parameters.Where(shard.Holds).Select(p => (p.Name, p.Elements)).ToArray(), file.Stream);
            var optimizer = new List<(string Name, long Elements)>();
            var slices = new Dictionary<string, (string Tensor, long From, long Count)>(StringComparer.Ordinal);
            foreach (var tensor in reader.Tensors.Where(t => OptimizerTensorNames.IsOptimizerTensor(t.Name)))
            {
                var parameter = ParameterOf(tensor.Name);
                if (parameter is not null && !shard.Holds(parameter))
                    continue;
                var (from, elements) = parameter is not null && ExpertTensors.IsStacked(parameter)
                    ? shard.ShareOf(tensor.ElementCount, spec.Config.Experts)
                    : (0L, tensor.ElementCount);
                string name = tensor.Name[OptimizerTensorNames.Prefix.Length..];
                optimizer.Add((name, elements));
                slices[name] = (tensor.Name, from, elements);
            }
            var optimizerReads = new TensorReads(optimizer, (name, sink) =>
            {
                var (tensor, from, count) = slices[name];
                file.Stream(tensor, Slice(sink, from, count));
            });
            return new TrainingCheckpoint(state, weights, optimizerReads, RoutingCheckpointState.ReadBias(reader)) { Source = file };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A sink that passes on only elements [from, from + count) of the stream it is given.</summary>
    private static TensorChunkSink Slice(TensorChunkSink sink, long from, long count)
    {
        long position = 0;
        return chunk =>
        {
            long start = Math.Max(from - position, 0), end = Math.Min(from + count - position, chunk.Length);
            if (end > start)
                sink(chunk[(int)start..(int)end]);
            position += chunk.Length;
        };
    }
}
