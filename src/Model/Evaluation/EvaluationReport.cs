using OpenMoE.Model.Parallel;
using System.Text.Json.Serialization;

namespace OpenMoE.Model.Evaluation;

/// <summary>Result of evaluating a model on a set of token sequences.</summary>
/// <param name="Spec">Spec name.</param>
/// <param name="Sequences">Sequences evaluated.</param>
/// <param name="Targets">Next-token predictions scored.</param>
/// <param name="CapacityFactor">Capacity factor used by routing.</param>
/// <param name="CrossEntropy">Mean next-token cross-entropy (nats).</param>
/// <param name="LoadBalancingLoss">Mean over batches of the load-balancing loss averaged over MoE layers.</param>
/// <param name="RouterZLoss">Mean over batches of the router z-loss averaged over MoE layers.</param>
/// <param name="DropRatioByLayer">Dropped / (N*K) per MoE layer, keyed by layer index.</param>
public sealed record EvaluationReport(
    string Spec, int Sequences, long Targets, double CapacityFactor, double CrossEntropy,
    double LoadBalancingLoss, double RouterZLoss, IReadOnlyDictionary<int, double> DropRatioByLayer)
{
    /// <summary>exp(cross-entropy).</summary>
    public double Perplexity => Math.Exp(CrossEntropy);

    /// <summary>Under expert parallelism, every rank's traffic in rank order; null (and absent from JSON) in one process.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<RankTraffic>? Ranks { get; init; }
}
