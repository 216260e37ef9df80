namespace OpenMoE.Analysis;

/// <summary>
/// How often consecutive tokens share an expert (the Mixtral paper's measure), over pairs of
/// adjacent document tokens of one row in one MoE layer: the share of pairs with the same top-1
/// expert, and the share whose top-k sets intersect. Uniformly random routing gives 1/E and
/// <c>1 - C(E-K, K) / C(E, K)</c>.
/// </summary>
public static class ConsecutiveExperts
{
    /// <summary>(same top-1, top-k sets intersect) shares for MoE layer index <paramref name="m"/>.</summary>
    public static (double SameTop1, double SharedTopK) Of(IReadOnlyList<RoutingBatch> rows, int m)
    {
        long pairs = 0, same = 0, shared = 0;
        foreach (var row in rows)
        {
            var routing = row.Layers[m];
            int k = routing.TopK;
            for (int i = 1; i < row.Tokens; i++)
            {
                if (i % row.SequenceLength == 0 || !row.IsText(i) || !row.IsText(i - 1))
                    continue;
                pairs++;
                same += routing.Expert[i * k] == routing.Expert[(i - 1) * k] ? 1 : 0;
                var previous = routing.Expert.AsSpan((i - 1) * k, k);
                bool any = false;
                for (int r = 0; r < k; r++)
                    any |= previous.Contains(routing.Expert[i * k + r]);
                shared += any ? 1 : 0;
            }
        }
        return pairs == 0 ? (0, 0) : ((double)same / pairs, (double)shared / pairs);
    }

    /// <summary>Uniform-routing expectations (1/E, 1 - C(E-K,K)/C(E,K)).</summary>
    public static (double SameTop1, double SharedTopK) Uniform(int experts, int topK)
    {
        // C(E-K, K) / C(E, K) = prod_{j<K} (E-K-j) / (E-j): the chance that a second K-set avoids the first.
        double disjoint = 1;
        for (int j = 0; j < topK; j++)
            disjoint *= Math.Max(0, experts - topK - j) / (double)(experts - j);
        return (1.0 / experts, 1 - disjoint);
    }
}
