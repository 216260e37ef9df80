namespace OpenMoE.Analysis;

/// <summary>
/// Vocabulary specialisation (OLMoE's measure) of one MoE layer, for input tokens or for the tokens the
/// model predicts next (argmax of its logits). For expert e and token x, <c>s(e, x) = N(x→e) / N(x)</c>
/// is the share of x's occurrences that have e among their top-k; an expert's specialisation is the mean of
/// <c>s(e, x)</c> over the assignments it receives, <c>sum_x N(x→e)^2 / N(x) / sum_x N(x→e)</c>; the
/// figure is the mean over experts that receive anything. 1 = each expert takes all of its tokens'
/// assignments; perfectly even routing gives K/E.
/// </summary>
public static class VocabularySpecialization
{
    /// <summary>Mean expert specialisation of MoE layer index <paramref name="m"/>, keyed by input ids or by predicted ids.</summary>
    public static double Of(IReadOnlyList<RoutingBatch> rows, int m, int experts, bool predicted)
    {
        var assigned = new Dictionary<int, long[]>();
        foreach (var row in rows)
        {
            var routing = row.Layers[m];
            for (int i = 0; i < row.Tokens; i++)
            {
                if (!row.IsText(i))
                    continue;
                int x = predicted ? row.PredictedIds[i] : row.TokenIds[i];
                if (!assigned.TryGetValue(x, out var counts))
                    assigned[x] = counts = new long[experts];
                for (int r = 0; r < routing.TopK; r++)
                    counts[routing.Expert[i * routing.TopK + r]]++;
            }
        }
        int topK = rows.Count == 0 ? 1 : rows[0].Layers[m].TopK;
        var perExpert = new List<double>();
        for (int e = 0; e < experts; e++)
        {
            double numerator = 0, denominator = 0;
            foreach (var counts in assigned.Values)
            {
                double occurrences = counts.Sum() / (double)topK;
                numerator += counts[e] * (double)counts[e] / occurrences;
                denominator += counts[e];
            }
            if (denominator > 0)
                perExpert.Add(numerator / denominator);
        }
        return perExpert.Count == 0 ? 0 : perExpert.Average();
    }
}
