namespace OpenMoE.Model.Routing;

/// <summary>
/// The readable specification of OpenMoE's routing rules, sequential and in plain C#
/// (twin of the device kernels in <c>OpenMoE.Kernels.Routing</c>). Per routing group:
/// <list type="number">
/// <item>Visit the group's tokens in order (or, with batch-prioritised routing, by decreasing raw top-1
/// probability, stable).</item>
/// <item>Place every token's rank-0 choice, then every token's rank-1 choice, and so on: the priority order.</item>
/// <item>An assignment takes the next free slot of its expert; when the expert already holds C
/// assignments it is dropped (slot -1, weight 0 at combine).</item>
/// </list>
/// Combine weights are fixed before dropping, so renormalised weights of a token that loses one
/// choice do not grow back to 1. With <see cref="Specs.DropPolicy.ByProbability"/> (and expert choice) an
/// expert instead keeps the C assignments of largest score, ties in priority order, and a kept
/// assignment's slot is its rank by score.
/// </summary>
public static class ReferenceRouter
{
    /// <summary>Softmax, top-k and capacity assignment. // logits [N, E], N in batch-major order</summary>
    public static RoutingResult Route(ReadOnlySpan<float> logits, int tokens, RoutingOptions options, ReadOnlySpan<float> bias = default)
    {
        options.Validated();
        var choices = RouterProbabilities.Choose(logits, tokens, options, bias);
        return Assign(choices, options);
    }

    /// <summary>Capacity assignment of given top-k choices (the part the device must match bit for bit).</summary>
    public static RoutingResult Assign(TopKChoices choices, RoutingOptions options)
    {
        options.Validated();
        if (choices.Experts != options.Experts || choices.TopK != options.TopK)
            throw new ArgumentException($"Choices are for E={choices.Experts}, K={choices.TopK}; options say E={options.Experts}, K={options.TopK}.");
        int n = choices.Tokens, k = options.TopK, e = options.Experts;
        int groupSize = options.TokensPerGroup(n);
        int groups = n / groupSize;
        int capacity = options.CapacityFor(groupSize);
        var topOne = choices.TopOneProbabilities();

        var slot = new int[n * k];
        var demand = new int[groups * e];
        var kept = new int[groups * e];
        for (int g = 0; g < groups; g++)
        {
            int[] order = VisitOrder(topOne.AsSpan(g * groupSize, groupSize), options.BatchPrioritized);
            var byExpert = new List<int>[e];
            for (int x = 0; x < e; x++)
                byExpert[x] = [];
            for (int r = 0; r < k; r++)
            {
                foreach (int local in order)
                {
                    int assignment = (g * groupSize + local) * k + r;
                    int expert = choices.Choices[assignment];
                    int position = demand[g * e + expert]++;
                    slot[assignment] = position < capacity ? position : -1;
                    byExpert[expert].Add(assignment);
                }
            }
            if (options.KeepsMostProbable)
            {
                foreach (var candidates in byExpert)
                {
                    // Stable: equal scores keep priority order.
                    var ranked = candidates.Select((a, position) => (a, position))
                        .OrderByDescending(x => choices.ChoiceProbabilities[x.a]).ThenBy(x => x.position).ToArray();
                    for (int rank = 0; rank < ranked.Length; rank++)
                        slot[ranked[rank].a] = rank < capacity ? rank : -1;
                }
            }
            for (int x = 0; x < e; x++)
                kept[g * e + x] = Math.Min(demand[g * e + x], capacity);
        }

        var offsets = new int[e * groups + 1];
        for (int x = 0; x < e; x++)
            for (int g = 0; g < groups; g++)
                offsets[x * groups + g + 1] = offsets[x * groups + g] + kept[g * e + x];
        var row = new int[n * k];
        var dispatch = new int[offsets[^1]];
        for (int a = 0; a < n * k; a++)
        {
            row[a] = -1;
            if (slot[a] < 0)
                continue;
            int g = a / k / groupSize;
            row[a] = offsets[choices.Choices[a] * groups + g] + slot[a];
            dispatch[row[a]] = a;
        }

        return new RoutingResult
        {
            Options = options,
            Tokens = n,
            TokensPerGroup = groupSize,
            Capacity = capacity,
            Expert = (int[])choices.Choices.Clone(),
            Weight = (float[])choices.Weights.Clone(),
            Slot = slot,
            Demand = demand,
            KeptCount = kept,
            ExpertGroupOffsets = offsets,
            DispatchOrder = dispatch,
            Row = row,
        };
    }

    /// <summary>
    /// Order in which a group's tokens are visited within each rank: token order, or a stable sort
    /// by decreasing top-1 probability (flaxformer: <c>argsort(-top1)</c>, stable). // [group] -> [group]
    /// </summary>
    public static int[] VisitOrder(ReadOnlySpan<float> topOneProbability, bool batchPrioritized)
    {
        var order = Enumerable.Range(0, topOneProbability.Length).ToArray();
        if (batchPrioritized)
        {
            var keys = topOneProbability.ToArray();
            order = order.OrderByDescending(i => keys[i]).ThenBy(i => i).ToArray();
        }
        return order;
    }
}
