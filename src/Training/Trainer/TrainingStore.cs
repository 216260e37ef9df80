using OpenMoE.Training.Data;

namespace OpenMoE.Training;

/// <summary>Everything besides tensors that a resumed run needs (JSON-friendly).</summary>
public sealed record TrainingState
{
    /// <summary>Updates completed.</summary>
    public required long Step { get; init; }
    /// <summary>Spec trained.</summary>
    public required string Spec { get; init; }
    /// <summary>Optimizer name (its state tensors are stored alongside).</summary>
    public required string Optimizer { get; init; }
    /// <summary>Run seed.</summary>
    public required ulong Seed { get; init; }
    /// <summary>Where the data pipeline stands after <see cref="Step"/> batches.</summary>
    public required PipelineState Data { get; init; }
    /// <summary>Total loss of the last step (for the log).</summary>
    public double LastLoss { get; init; }
    /// <summary>The tokenizer trained with (<see cref="Tokenization.Tokenizers.RecordedName"/>); null in checkpoints written before it was recorded.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>The <c>--routing</c> rule the run trains with (null: the spec's); a resume must ask for the same.</summary>
    public string? Routing { get; init; }
}

/// <summary>One saved training step: state, weights and optimizer tensors by name.</summary>
/// <param name="ExpertBias">Every MoE layer's expert bias by decoder layer (auxiliary-loss-free balancing; all zeros for other rules).</param>
public sealed record TrainingCheckpoint(TrainingState State, TensorReads Weights, TensorReads Optimizer,
    IReadOnlyDictionary<int, float[]>? ExpertBias = null) : IDisposable
{
    /// <summary>What the tensors are read from when they are streamed (an open checkpoint), released by <see cref="Dispose"/>.</summary>
    public IDisposable? Source { get; init; }

    /// <inheritdoc />
    public void Dispose() => Source?.Dispose();
}

/// <summary>
/// Where a run's checkpoints go. The trainer only talks to this interface, so the checkpoint
/// format (MessagePack, sharded, checksummed) plugs in here. A save must be atomic: a crash or a
/// diverged step never leaves a half-written checkpoint as the latest.
/// </summary>
public interface ITrainingStore
{
    /// <summary>Saves <paramref name="checkpoint"/> and makes it the latest.</summary>
    void Save(TrainingCheckpoint checkpoint);

    /// <summary>The latest checkpoint, or null when the run has none; the caller disposes it once its tensors are read.</summary>
    TrainingCheckpoint? LoadLatest();

    /// <summary>Step of the latest checkpoint, or null.</summary>
    long? LatestStep { get; }
}
