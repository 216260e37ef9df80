namespace OpenMoE.Analysis;

/// <summary>
/// Expert co-activation of one MoE layer: <c>P(b | a)</c> = of the document tokens that chose expert
/// a among their top-k, the share that also chose b. The diagonal is 1 by definition; rows of experts
/// nobody chose are 0. With K = 1 nothing co-activates. Uniformly random top-k routing gives
/// <c>(K-1)/(E-1)</c> off the diagonal.
/// </summary>
public static class CoActivation
{
    /// <summary>P(b | a) for MoE layer index <paramref name="m"/>. // [E][E], entry [a][b]</summary>
    public static double[][] Matrix(IReadOnlyList<RoutingBatch> rows, int m, int experts)
    {
        var both = new long[experts, experts];
        foreach (var row in rows)
        {
            var routing = row.Layers[m];
            int k = routing.TopK;
            for (int i = 0; i < row.Tokens; i++)
            {
                if (!row.IsText(i))
                    continue;
                for (int r = 0; r < k; r++)
                    for (int s = 0; s < k; s++)
                        both[routing.Expert[i * k + r], routing.Expert[i * k + s]]++;
            }
        }
        return Enumerable.Range(0, experts).Select(a => Enumerable.Range(0, experts)
            .Select(b => both[a, a] == 0 ? 0 : (double)both[a, b] / both[a, a]).ToArray()).ToArray();
    }

    /// <summary>Mean over chosen experts a of max over b ≠ a of P(b | a): how strongly each expert has a fixed partner.</summary>
    public static double StrongestPartner(double[][] matrix)
    {
        var rows = Enumerable.Range(0, matrix.Length).Where(a => matrix[a][a] > 0).ToArray();
        if (rows.Length == 0 || matrix.Length < 2)
            return 0;
        return rows.Average(a => Enumerable.Range(0, matrix.Length).Where(b => b != a).Max(b => matrix[a][b]));
    }

    /// <summary>P(b | a) off the diagonal under uniformly random top-k routing: (K-1)/(E-1).</summary>
    public static double Uniform(int experts, int topK) => experts < 2 ? 0 : (topK - 1.0) / (experts - 1);
}
