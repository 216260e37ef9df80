namespace OpenMoE.Model.Routing;

/// <summary>
/// What one MoE layer did with one batch: the numbers the training log and the routing analysis
/// ("drop towards the end") read. Plain data; build it with <see cref="From"/>.
/// </summary>
/// <param name="Layer">Decoder layer index of this MoE layer.</param>
/// <param name="Step">Training step (or evaluation batch index).</param>
/// <param name="Tokens">N = B*T.</param>
/// <param name="SequenceLength">T; position of token t is <c>t % T</c>.</param>
/// <param name="TopK">K.</param>
/// <param name="Capacity">Capacity per expert and group.</param>
/// <param name="Groups">Routing groups.</param>
/// <param name="Demand">Assignments asking for each expert, summed over groups. // [E]</param>
/// <param name="Kept">Assignments each expert kept, summed over groups. // [E]</param>
/// <param name="KeptAssignments">Sum of <paramref name="Kept"/>.</param>
/// <param name="DroppedAssignments">N*K minus kept.</param>
/// <param name="DropRatioByPosition">Dropped / (K * tokens at that position). // [T]</param>
/// <param name="FractionTokensLosingAllChoices">Tokens whose every choice was dropped, over N.</param>
public sealed record RoutingStatistics(
    int Layer, long Step, int Tokens, int SequenceLength, int TopK, int Capacity, int Groups,
    int[] Demand, int[] Kept, int KeptAssignments, int DroppedAssignments,
    double[] DropRatioByPosition, double FractionTokensLosingAllChoices)
{
    /// <summary>Dropped over N*K.</summary>
    public double DropRatio => (double)DroppedAssignments / (Tokens * TopK);

    /// <summary>Summarise <paramref name="result"/> for a batch of sequences of length <paramref name="sequenceLength"/>.</summary>
    public static RoutingStatistics From(RoutingResult result, int sequenceLength, int layer, long step)
    {
        if (sequenceLength < 1 || result.Tokens % sequenceLength != 0)
            throw new ArgumentException($"Sequence length {sequenceLength} must divide the token count {result.Tokens}.");
        int e = result.Experts, k = result.TopK;
        var demand = new int[e];
        var kept = new int[e];
        for (int x = 0; x < e; x++)
        {
            demand[x] = result.TotalDemand(x);
            kept[x] = result.TotalKept(x);
        }
        var droppedAt = new int[sequenceLength];
        int lostAll = 0;
        for (int t = 0; t < result.Tokens; t++)
        {
            int dropped = 0;
            for (int r = 0; r < k; r++)
                dropped += result.IsKept(t, r) ? 0 : 1;
            droppedAt[t % sequenceLength] += dropped;
            lostAll += dropped == k ? 1 : 0;
        }
        int sequences = result.Tokens / sequenceLength;
        var byPosition = droppedAt.Select(d => (double)d / (k * sequences)).ToArray();
        return new RoutingStatistics(
            layer, step, result.Tokens, sequenceLength, k, result.Capacity, result.Groups,
            demand, kept, result.KeptAssignments, result.DroppedAssignments,
            byPosition, (double)lostAll / result.Tokens);
    }
}
