using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Analysis;

/// <summary>
/// How a replay orders assignments when an expert overflows (the engine's priority orders, named apart
/// from the engine's own <see cref="DropPolicy"/>, which says which assignments an expert keeps).
/// </summary>
public enum ReplayPolicy
{
    /// <summary>OpenMoE: every first choice before any second, in token order, so late tokens drop first.</summary>
    ByPosition,
    /// <summary>Batch-prioritised routing (V-MoE): tokens in order of decreasing top-1 probability.</summary>
    BatchPrioritized,
    /// <summary>No capacity limit: nothing drops.</summary>
    Dropless,
}

/// <summary>
/// Counterfactual capacity replay: the router outputs recorded in one forward pass, re-assigned to
/// capacity under other factors and drop policies by the routing engine's sequential reference
/// (<see cref="ReferenceRouter.Assign"/>), so "drop towards the end" is measured as a consequence of
/// the policy. Every MoE layer keeps the choices it made in the real pass: a drop in one layer would
/// change the next layer's input, which a replay does not model (it answers "which of these
/// decisions would this policy drop", not "what would this model do").
/// </summary>
public static class CapacityReplay
{
    /// <summary>
    /// Replays every batch of <paramref name="batches"/> (each one routing group, as recorded) under every
    /// (policy, factor); ratios are over the K assignments of document tokens, averaged over MoE layers.
    /// Capacity policies use <paramref name="rule"/> (a dropless spec's rule cannot drop, so T5x replaces it).
    /// </summary>
    public static IReadOnlyList<ReplayCase> Run(
        IReadOnlyList<RoutingBatch> batches, CapacityRule rule, int minCapacity,
        IReadOnlyList<double> factors, int buckets)
    {
        if (batches.Count == 0)
            return [];
        var capacityRule = rule == CapacityRule.Dropless ? CapacityRule.T5x : rule;
        var cases = new List<ReplayCase>();
        foreach (var policy in Enum.GetValues<ReplayPolicy>())
        {
            IReadOnlyList<double> policyFactors = policy == ReplayPolicy.Dropless ? [0.0] : factors;
            foreach (double factor in policyFactors)
            {
                var replayed = batches.Select(b => b with { Layers = b.Layers.Select(l => Replay(l, policy, capacityRule, factor, minCapacity)).ToArray() }).ToArray();
                var accumulator = new DropAccumulator(policy.ToString(), batches[0].Layers.Select(l => l.Layer).ToArray(), batches[0].SequenceLength, buckets);
                foreach (var batch in replayed)
                    accumulator.Add(batch);
                var result = accumulator.Result();
                cases.Add(new ReplayCase(policy, policy == ReplayPolicy.Dropless ? null : factor, accumulator.LastCapacity, result.DropRatio, result.MeanByBucket));
            }
        }
        return cases;
    }

    /// <summary>
    /// The uniform control of the drop figures: <paramref name="batches"/> with every token's K experts
    /// drawn uniformly at random (distinct, seeded) and re-assigned under OpenMoE's policy with the
    /// recorded capacity, so what remains is what the capacity rule alone does to random routing.
    /// </summary>
    public static IReadOnlyList<RoutingBatch> UniformRouting(IReadOnlyList<RoutingBatch> batches, CapacityRule rule, double factor, int minCapacity, int seed)
    {
        var random = new Random(seed);
        return batches.Select(b => b with
        {
            Layers = b.Layers.Select(layer =>
            {
                var experts = new int[layer.Expert.Length];
                var all = Enumerable.Range(0, layer.Experts).ToArray();
                for (int t = 0; t < layer.Tokens; t++)
                {
                    random.Shuffle(all);
                    all.AsSpan(0, layer.TopK).CopyTo(experts.AsSpan(t * layer.TopK));
                }
                var uniform = layer with { Expert = experts, Probabilities = Enumerable.Repeat(1f / layer.Experts, layer.Probabilities.Length).ToArray() };
                return Replay(uniform, ReplayPolicy.ByPosition, rule, factor, minCapacity);
            }).ToArray(),
        }).ToArray();
    }

    /// <summary>One layer's recorded choices re-assigned under <paramref name="policy"/>.</summary>
    public static LayerRouting Replay(LayerRouting layer, ReplayPolicy policy, CapacityRule rule, double factor, int minCapacity)
    {
        var options = new RoutingOptions
        {
            Experts = layer.Experts,
            TopK = layer.TopK,
            CapacityRule = policy == ReplayPolicy.Dropless ? CapacityRule.Dropless : rule,
            CapacityFactor = factor,
            MinCapacity = minCapacity,
            BatchPrioritized = policy == ReplayPolicy.BatchPrioritized,
        };
        var result = ReferenceRouter.Assign(layer.Choices(), options);
        return layer with { Capacity = result.Capacity, Kept = Array.ConvertAll(result.Slot, s => s >= 0) };
    }
}

/// <summary>One replayed (policy, capacity factor).</summary>
/// <param name="Policy">Drop policy.</param>
/// <param name="CapacityFactor">Capacity factor; null for dropless.</param>
/// <param name="Capacity">Capacity per expert and group it gave.</param>
/// <param name="DropRatio">Dropped share of document-token assignments, mean over MoE layers.</param>
/// <param name="ByBucket">Drop ratio per position bucket, mean over MoE layers. // [buckets]</param>
public sealed record ReplayCase(ReplayPolicy Policy, double? CapacityFactor, int Capacity, double DropRatio, double[] ByBucket);
