namespace OpenMoE.Analysis;

/// <summary>
/// Top-k margins of one MoE layer: for each document token, the probability of its last (rank K-1)
/// choice minus the largest probability of an expert it did not choose (<see cref="LayerRouting.Margin"/>).
/// A margin near 0 is a decision a small change of the router would flip.
/// </summary>
/// <param name="Median">Median margin.</param>
/// <param name="P10">10th percentile.</param>
/// <param name="P90">90th percentile.</param>
/// <param name="BinEdges">Upper edges of the histogram bins (the last bin is everything above the previous edge). // [bins]</param>
/// <param name="BinShares">Share of tokens per bin. // [bins]</param>
public sealed record RouterMargin(double Median, double P10, double P90, double[] BinEdges, double[] BinShares)
{
    private static readonly double[] Edges = [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0];

    /// <summary>The margins of MoE layer index <paramref name="m"/> over <paramref name="rows"/>.</summary>
    public static RouterMargin Of(IReadOnlyList<RoutingBatch> rows, int m)
    {
        var margins = new List<double>();
        foreach (var row in rows)
            for (int i = 0; i < row.Tokens; i++)
                if (row.IsText(i))
                    margins.Add(row.Layers[m].Margin(i));
        var sorted = margins.Order().ToArray();
        if (sorted.Length == 0)
            return new RouterMargin(0, 0, 0, Edges, new double[Edges.Length]);
        var shares = new double[Edges.Length];
        foreach (var v in sorted)
        {
            int bin = Array.FindIndex(Edges, edge => v <= edge);
            shares[bin < 0 ? Edges.Length - 1 : bin] += 1.0 / sorted.Length;
        }
        return new RouterMargin(Bootstrap.Percentile(sorted, 0.5), Bootstrap.Percentile(sorted, 0.1), Bootstrap.Percentile(sorted, 0.9), Edges, shares);
    }
}
