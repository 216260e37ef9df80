using OpenMoE.Model.Routing;

namespace OpenMoE.Model.Network;

/// <summary>
/// What one MoE layer did in one forward: the routing of every token (chosen experts in rank order,
/// their probabilities, combine weights, kept or dropped, slot) and the router losses.
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Choices">Top-k choices and the full softmax. // probabilities [N, E], choices [N, K]</param>
/// <param name="Routing">Capacity assignment: slots, kept counts, dispatch list.</param>
/// <param name="LoadBalancingLoss">E * sum_e f_e P_e for this layer.</param>
/// <param name="ZLoss">mean_t logsumexp(router logits)^2 for this layer.</param>
public sealed record MoeLayerTrace(int Layer, TopKChoices Choices, RoutingResult Routing, double LoadBalancingLoss, double ZLoss)
{
    /// <summary>Summary numbers for logs and analysis (drop ratio by position etc.).</summary>
    public RoutingStatistics Statistics(int sequenceLength, long step = 0) => RoutingStatistics.From(Routing, sequenceLength, Layer, step);
}
