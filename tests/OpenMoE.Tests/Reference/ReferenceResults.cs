namespace OpenMoE.Tests.Reference;

/// <summary>Routing of one token in one MoE layer. Arrays of length K are in rank order (best first).</summary>
public sealed record ReferenceTokenRoute(
    double[] RouterLogits,   // [E]
    double[] Probabilities,  // [E] softmax over all experts
    int[] Experts,           // [K] chosen experts, best first, ties to the lower index
    double[] Weights,        // [K] combine weight before dropping (raw prob, or renormalised over the top-k)
    int[] Slots)             // [K] position in the expert's buffer, -1 if dropped
{
    /// <summary>Whether each of the K assignments survived the capacity limit.</summary>
    public bool[] Kept => Slots.Select(slot => slot >= 0).ToArray();

    /// <summary>Combine weights actually applied (0 for a dropped assignment). [K]</summary>
    public double[] AppliedWeights => Weights.Select((weight, rank) => Slots[rank] >= 0 ? weight : 0.0).ToArray();

    /// <summary>Probability gap between the K-th choice and the best unchosen expert (0 when K = E): small gaps mean fp32 may legitimately pick differently.</summary>
    public double TopKMargin
    {
        get
        {
            double kth = Probabilities[Experts[^1]];
            double nextBest = Probabilities.Where((_, e) => !Experts.Contains(e)).DefaultIfEmpty(kth).Max();
            return kth - nextBest;
        }
    }
}

/// <summary>Routing of one MoE layer for all B*T tokens (one routing group).</summary>
public sealed record ReferenceMoeRouting(
    int Layer,
    int Capacity,
    ReferenceTokenRoute[] Tokens, // [B*T], index b*T + t
    double LoadBalanceLoss,       // E * sum_e f_e * P_e
    double RouterZLoss)           // mean_tokens logsumexp(router logits)^2
{
    /// <summary>Fraction of the N*K assignments that were dropped.</summary>
    public double DropRatio => Tokens.Sum(token => token.Slots.Count(slot => slot < 0)) / (double)Tokens.Sum(token => token.Slots.Length);
}

/// <summary>Everything one reference forward produces.</summary>
public sealed class ReferenceForwardResult
{
    /// <summary>Batch size B.</summary>
    public required int Batch { get; init; }
    /// <summary>Sequence length T.</summary>
    public required int Time { get; init; }
    /// <summary>Vocabulary size V.</summary>
    public required int Vocab { get; init; }
    /// <summary>Logits, flat [B, T, V].</summary>
    public required double[] Logits { get; init; }
    /// <summary>One entry per MoE layer, in layer order.</summary>
    public required IReadOnlyList<ReferenceMoeRouting> Routing { get; init; }
    /// <summary>Mean next-token cross-entropy over counted target positions.</summary>
    public required double CrossEntropy { get; init; }
    /// <summary>Number of target positions in <see cref="CrossEntropy"/>.</summary>
    public required int TargetCount { get; init; }
    /// <summary>Load-balance loss averaged over MoE layers (0 without MoE layers).</summary>
    public required double LoadBalanceLoss { get; init; }
    /// <summary>Router z-loss averaged over MoE layers (0 without MoE layers).</summary>
    public required double RouterZLoss { get; init; }
    /// <summary>Residual stream at every sublayer boundary, for a backward pass and for locating divergences.</summary>
    public required IReadOnlyList<ReferenceLayerTrace> Layers { get; init; }
    /// <summary>Residual stream after the last layer, before the final norm. [B*T, D]</summary>
    public required double[] FinalResidual { get; init; }

    /// <summary>
    /// The residual stream at every sublayer boundary by layer-scoped name ("L3.attn_in", "L3.ffn_in",
    /// "L3.extra_in", "L3.out", "final_in"), each [B*T, D], so a comparison can name the first tensor that diverges.
    /// </summary>
    public IReadOnlyList<(string Name, double[] Values)> NamedResiduals()
    {
        var named = new List<(string, double[])>();
        foreach (var layer in Layers)
        {
            named.Add(($"L{layer.Layer}.attn_in", layer.AttentionInput));
            named.Add(($"L{layer.Layer}.ffn_in", layer.FfnInput));
            if (layer.ExtraFfnInput != null) named.Add(($"L{layer.Layer}.extra_in", layer.ExtraFfnInput));
            named.Add(($"L{layer.Layer}.out", layer.Output));
        }
        named.Add(("final_in", FinalResidual));
        return named;
    }

    /// <summary>logits[b, t, v].</summary>
    public double Logit(int b, int t, int v) => Logits[(b * Time + t) * Vocab + v];

    /// <summary>CE + auxWeight * load-balance + zWeight * router z-loss (OpenMoE: 0.01 and 1e-4).</summary>
    public double TotalLoss(double auxWeight = 0.01, double zWeight = 1e-4) =>
        CrossEntropy + auxWeight * LoadBalanceLoss + zWeight * RouterZLoss;
}

/// <summary>
/// Residual stream entering each sublayer of one decoder layer and leaving it, [B*T, D] each
/// (see <see cref="ReferenceForwardResult.NamedResiduals"/>). ExtraFfnInput is set only in MoE layers with OpenMoE's extra FFN.
/// </summary>
public sealed record ReferenceLayerTrace(
    int Layer,
    double[] AttentionInput,
    double[] FfnInput,
    double[]? ExtraFfnInput,
    double[] Output);
