using System.Collections.Immutable;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;

namespace OpenMoE.Training;

/// <summary>
/// What one training step did (one metrics.jsonl line, plus routing counts for summaries). A value:
/// keeping one is free, but its <see cref="MoeLayers"/> records are the network's and are
/// overwritten by the next step (copy the counts to keep them).
/// </summary>
public readonly record struct StepReport(
    long Step, double Loss, double CrossEntropy, double LoadBalancing, double ZLoss, double LearningRate, double GradientNorm,
    double TokensPerSecond, int Tokens, ImmutableArray<MoeLayerStep> MoeLayers, StepTimings Timings)
{
    /// <summary>Under expert or data parallelism, every rank's tokens and exchange traffic in this step, in rank order; null in one process.</summary>
    public IReadOnlyList<RankTraffic>? Ranks { get; init; }

    /// <summary>Mean drop ratio over the MoE layers.</summary>
    public double DropRatio => MoeLayerStep.MeanDropRatio(MoeLayers);
}

/// <summary>Seconds spent in the phases of one training step (the training bench reports them).</summary>
/// <param name="ForwardBackward">Forward and backward on the device.</param>
/// <param name="Forward">Of which the forward (to the loss).</param>
/// <param name="Update">Gradient clipping and the optimizer on the device (the norm is the one value that comes back).</param>
public readonly record struct StepTimings(double ForwardBackward, double Forward, double Update);

/// <summary>The loss or the gradient became NaN or infinite: training stopped before applying the step.</summary>
public sealed class TrainingDivergedException(long step, long? lastCheckpoint, string run)
    : Exception($"Training diverged at step {step}: the loss or gradient is NaN or infinite. The step was not applied. " +
                (lastCheckpoint is { } last
                    ? $"The last good checkpoint (step {last}) in {run} is intact; resume from it with --resume and a lower learning rate."
                    : $"No checkpoint was saved before it; restart with a lower learning rate."))
{
    /// <summary>The step whose loss or gradient was not finite.</summary>
    public long Step { get; } = step;

    /// <summary>The latest checkpoint before it, if any.</summary>
    public long? LastCheckpoint { get; } = lastCheckpoint;
}
