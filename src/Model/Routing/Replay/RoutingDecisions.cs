namespace OpenMoE.Model.Routing.Replay;

/// <summary>
/// One MoE layer's routing decisions for one batch: which expert each assignment chose and the slot it
/// got in that expert (-1 = dropped). With the router's scores of a later forward these fix the whole
/// dispatch: replay forces them.
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Tokens">N = B*T.</param>
/// <param name="TopK">K (E with expert choice).</param>
/// <param name="Choices">Chosen expert per assignment. // [N, K]</param>
/// <param name="Slots">Slot in the expert's group buffer, -1 = dropped. // [N, K]</param>
public sealed record RoutingDecisions(int Layer, int Tokens, int TopK, int[] Choices, int[] Slots)
{
    /// <summary>Assignments whose expert or kept/dropped outcome differs in <paramref name="choices"/> and <paramref name="slots"/> [N, K].</summary>
    public int Differences(ReadOnlySpan<int> choices, ReadOnlySpan<int> slots)
    {
        int changed = 0;
        for (int a = 0; a < Choices.Length; a++)
            changed += Choices[a] != choices[a] || (Slots[a] >= 0) != (slots[a] >= 0) ? 1 : 0;
        return changed;
    }

    /// <summary>
    /// Demand and kept counts per (group, expert) of these decisions for groups of <paramref name="tokensPerGroup"/>
    /// tokens and E experts; throws <see cref="InvalidDataException"/> unless every expert's kept slots in
    /// every group are exactly 0..kept-1 (what the dispatch needs). // demand, kept [G, E]
    /// </summary>
    public (int[] Demand, int[] Kept) Counts(int experts, int tokensPerGroup)
    {
        int groups = Tokens / tokensPerGroup;
        var demand = new int[groups * experts];
        var kept = new int[groups * experts];
        var seen = new HashSet<(int, int, int)>();
        for (int a = 0; a < Choices.Length; a++)
        {
            int g = a / TopK / tokensPerGroup, e = Choices[a];
            if ((uint)e >= (uint)experts)
                throw new InvalidDataException($"Routing recording of layer {Layer}: assignment {a} names expert {e}, outside 0..{experts - 1}.");
            demand[g * experts + e]++;
            if (Slots[a] < 0)
                continue;
            kept[g * experts + e]++;
            if (!seen.Add((g, e, Slots[a])))
                throw new InvalidDataException($"Routing recording of layer {Layer}: expert {e} holds slot {Slots[a]} twice in group {g}.");
        }
        foreach (var (g, e, slot) in seen)
        {
            if (slot >= kept[g * experts + e])
                throw new InvalidDataException($"Routing recording of layer {Layer}: expert {e} holds slot {slot} but only {kept[g * experts + e]} assignments in group {g}.");
        }
        return (demand, kept);
    }
}
