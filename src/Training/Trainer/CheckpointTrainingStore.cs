using System.Text.Json;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using CheckpointState = OpenMoE.Runtime.Checkpoints.TrainingState;

namespace OpenMoE.Training;

/// <summary>
/// Training checkpoints in the MessagePack checkpoint format (docs/checkpoint-format.md):
/// RUN/checkpoints/step-NNNNNNNN/, each holding the weights under their Hugging Face names, the
/// optimizer tensors under <c>optim/</c>, the expert bias under <c>routing/</c>, and the trainer's state (step, seed, data-pipeline
/// position) as JSON in the checksummed manifest. Saves are atomic and the newest
/// <paramref name="keepLast"/> are kept; loading verifies spec, layout and every checksum first.
/// </summary>
public sealed class CheckpointTrainingStore(ModelSpecInfo spec, string runDirectory, int keepLast = 3) : ITrainingStore
{
    private const string StateKey = "openmoe.trainer_state";
    private readonly CheckpointRun _run = new(Path.Combine(runDirectory, "checkpoints"), keepLast);

    /// <summary>
    /// The trainer state a checkpoint's metadata holds (seed, tokenizer, ...), or null when it is not a
    /// training checkpoint: what analysis and generation check a checkpoint against.
    /// </summary>
    public static TrainingState? StateOf(IReadOnlyDictionary<string, string> extra) =>
        extra.TryGetValue(StateKey, out var json) ? JsonSerializer.Deserialize<TrainingState>(json) : null;

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
        var optimizer = checkpoint.Optimizer.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => (new TensorDescriptor(OptimizerTensorNames.Prefix + t.Key, TensorDType.F32, t.Value.Length), t.Value));
        var extra = optimizer.Concat(RoutingCheckpointState.Tensors(checkpoint.ExpertBias ?? new Dictionary<int, float[]>()));
        ModelCheckpoint.Save(_run.PathForStep(state.Step), spec, p => checkpoint.Weights[p.Name], metadata, summary, extra,
            new CheckpointWriteOptions { Overwrite = true });
        _run.Rotate();
    }

    /// <inheritdoc />
    public TrainingCheckpoint? LoadLatest()
    {
        if (_run.Latest() is not { } path)
            return null;
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
        return new TrainingCheckpoint(state, weights, optimizer, RoutingCheckpointState.ReadBias(reader));
    }
}
