namespace OpenMoE.Model.Routing;

/// <summary>
/// The outcome of routing one batch through one MoE layer. Per-assignment arrays are token-major,
/// entry <c>t * K + r</c> for token t's rank-r choice; per-expert arrays are group-major,
/// entry <c>g * E + e</c>. The same record is produced by the reference and (copied back) by the
/// device router, so the two can be compared field by field.
/// </summary>
public sealed record RoutingResult
{
    /// <summary>The options this batch was routed with.</summary>
    public required RoutingOptions Options { get; init; }
    /// <summary>N = B*T tokens.</summary>
    public required int Tokens { get; init; }
    /// <summary>Tokens per routing group.</summary>
    public required int TokensPerGroup { get; init; }
    /// <summary>Capacity C of every expert in every group.</summary>
    public required int Capacity { get; init; }
    /// <summary>Chosen expert. // [N, K]</summary>
    public required int[] Expert { get; init; }
    /// <summary>Combine weight before dropping (raw probability or renormalised). // [N, K]</summary>
    public required float[] Weight { get; init; }
    /// <summary>Slot in the expert's buffer within the token's group, or -1 when dropped. // [N, K]</summary>
    public required int[] Slot { get; init; }
    /// <summary>Assignments that asked for each expert, before dropping. // [G, E]</summary>
    public required int[] Demand { get; init; }
    /// <summary>Assignments each expert kept: min(demand, C). // [G, E]</summary>
    public required int[] KeptCount { get; init; }
    /// <summary>
    /// Start of each (expert, group) run in <see cref="DispatchOrder"/>, expert-major, plus the total
    /// at the end: expert e's rows are <c>[Offsets[e*G], Offsets[(e+1)*G])</c>. // [E*G + 1]
    /// </summary>
    public required int[] ExpertGroupOffsets { get; init; }
    /// <summary>
    /// Kept assignments as <c>t * K + r</c>, grouped by expert, then group, then slot: the gather
    /// list for contiguous per-expert GEMMs. // [kept]
    /// </summary>
    public required int[] DispatchOrder { get; init; }
    /// <summary>Row of each assignment in <see cref="DispatchOrder"/>, or -1 when dropped. // [N, K]</summary>
    public required int[] Row { get; init; }

    /// <summary>E.</summary>
    public int Experts => Options.Experts;
    /// <summary>K.</summary>
    public int TopK => Options.TopK;
    /// <summary>G = N / tokens per group.</summary>
    public int Groups => Tokens / TokensPerGroup;
    /// <summary>N*K.</summary>
    public int Assignments => Tokens * TopK;
    /// <summary>Kept assignments (sum of <see cref="KeptCount"/>).</summary>
    public int KeptAssignments => ExpertGroupOffsets[^1];
    /// <summary>Dropped assignments.</summary>
    public int DroppedAssignments => Assignments - KeptAssignments;

    /// <summary>Expert of token t at rank r.</summary>
    public int ExpertOf(int token, int rank) => Expert[token * TopK + rank];
    /// <summary>Slot of token t at rank r, -1 when dropped.</summary>
    public int SlotOf(int token, int rank) => Slot[token * TopK + rank];
    /// <summary>Whether token t's rank-r assignment was kept.</summary>
    public bool IsKept(int token, int rank) => Slot[token * TopK + rank] >= 0;
    /// <summary>Weight applied when combining: the gating weight if kept, else 0.</summary>
    public float CombineWeight(int token, int rank) => IsKept(token, rank) ? Weight[token * TopK + rank] : 0f;
    /// <summary>Demand for expert e summed over groups.</summary>
    public int TotalDemand(int expert) => SumOverGroups(Demand, expert);
    /// <summary>Kept assignments of expert e summed over groups.</summary>
    public int TotalKept(int expert) => SumOverGroups(KeptCount, expert);
    /// <summary>Kept (token, rank) pairs of expert e, in dispatch (group, slot) order.</summary>
    public IEnumerable<(int Token, int Rank)> DispatchedTo(int expert)
    {
        for (int i = ExpertGroupOffsets[expert * Groups]; i < ExpertGroupOffsets[(expert + 1) * Groups]; i++)
            yield return (DispatchOrder[i] / TopK, DispatchOrder[i] % TopK);
    }

    private int SumOverGroups(int[] perGroup, int expert)
    {
        int sum = 0;
        for (int g = 0; g < Groups; g++)
            sum += perGroup[g * Experts + expert];
        return sum;
    }
}
