namespace OpenMoE.Analysis;

/// <summary>
/// Dead and overloaded experts of one MoE layer: each expert's share of the top-k assignments of
/// document tokens, counted before capacity drops (what the router asks for, not what capacity lets through).
/// </summary>
/// <param name="Shares">Share of all assignments per expert; sums to 1. // [E]</param>
/// <param name="CoefficientOfVariation">std / mean of the shares (population std): 0 = perfectly balanced.</param>
/// <param name="DeadShare">Share of experts that get less than 1/(4E) of the load (a quarter of their fair share).</param>
/// <param name="MaxOverFair">Largest share times E: how many times its fair share the busiest expert gets.</param>
public sealed record ExpertLoad(double[] Shares, double CoefficientOfVariation, double DeadShare, double MaxOverFair)
{
    /// <summary>The load of MoE layer index <paramref name="m"/> over <paramref name="rows"/>.</summary>
    public static ExpertLoad Of(IReadOnlyList<RoutingBatch> rows, int m, int experts)
    {
        var counts = new long[experts];
        foreach (var row in rows)
        {
            var routing = row.Layers[m];
            for (int i = 0; i < row.Tokens; i++)
            {
                if (!row.IsText(i))
                    continue;
                for (int r = 0; r < routing.TopK; r++)
                    counts[routing.Expert[i * routing.TopK + r]]++;
            }
        }
        return FromCounts(counts);
    }

    /// <summary>The figures of assignment counts per expert. // [E]</summary>
    public static ExpertLoad FromCounts(long[] counts)
    {
        int experts = counts.Length;
        double total = counts.Sum();
        var shares = counts.Select(c => total == 0 ? 0 : c / total).ToArray();
        double mean = 1.0 / experts;
        double std = Math.Sqrt(shares.Sum(s => (s - mean) * (s - mean)) / experts);
        return new ExpertLoad(shares, total == 0 ? 0 : std / mean,
            (double)shares.Count(s => s < 1.0 / (4 * experts)) / experts, shares.Max() * experts);
    }
}
