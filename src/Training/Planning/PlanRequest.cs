using OpenMoE.Model.Specs;

namespace OpenMoE.Training.Planning;

/// <summary>
/// What a run will do, as far as memory is concerned: the spec, the precision, the batch shape
/// (B sequences of T tokens in one forward), whether it trains (and with which optimizer) and how
/// many positions a generation's KV cache holds (0: no cache, as eval and analyze).
/// </summary>
public sealed record PlanRequest(ModelSpecInfo Spec, Precision Precision, int Batch, int Seq)
{
    /// <summary>Training with this optimizer (adafactor or adamw); null: inference.</summary>
    public string? Optimizer { get; init; }

    /// <summary>Positions per sequence in the KV cache (generation), 0 for none.</summary>
    public int KvCachePositions { get; init; }

    /// <summary>Bytes of weights used in place through a memory map (paged in from the file as touched, so they need no memory of their own).</summary>
    public long MappedWeightBytes { get; init; }

    /// <summary>
    /// Ranks every MoE layer's experts are split over (1: one process). The plan is then one rank's:
    /// the replicated tensors and rank 0's share of the experts (every rank holds as many), with
    /// <see cref="Batch"/> the rank's own sequences.
    /// </summary>
    public int ExpertParallel { get; init; } = 1;

    /// <summary>Whether this is a training run.</summary>
    public bool Training => Optimizer is not null;
}
