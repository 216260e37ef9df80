using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Capacity assignment in three parallel passes over each group's priority sequence
/// (position <c>q = r * S + i</c>: rank r, i-th visited token; S = tokens per group), cut into
/// chunks of <c>chunk</c> positions. Reference twin: <c>OpenMoE.Model.Routing.ReferenceRouter.Assign</c>;
/// the device result must equal it exactly for any chunk size.
/// <list type="number">
/// <item><see cref="CountKernel"/>: per (group, chunk), how many assignments ask for each expert.</item>
/// <item><see cref="ScanKernel"/>: per (group, expert), exclusive prefix sum over chunks; totals are the demand;
/// then the dispatch offsets of the kept counts.</item>
/// <item><see cref="AssignKernel"/>: per (group, chunk), walk the chunk from its offsets: position &lt; C keeps that slot,
/// and its dispatch row follows from the (expert, group) offsets of the kept counts.</item>
/// </list>
/// </summary>
public static class ExpertSlotKernels
{
    /// <summary>// choices [N, K], order [N] -> counts [G, chunksPerGroup, E]</summary>
    public static void CountKernel(
        ArrayView<int> choices, ArrayView<int> order, ArrayView<int> counts,
        int groups, int tokensPerGroup, int topK, int experts, int chunk)
    {
        int chunksPerGroup = ChunksPerGroup(tokensPerGroup, topK, chunk);
        int stride = Grid.DimX * Group.DimX;
        for (int gc = Grid.GlobalIndex.X; gc < groups * chunksPerGroup; gc += stride)
        {
            int group = gc / chunksPerGroup;
            int start = (gc - group * chunksPerGroup) * chunk;
            int end = start + chunk < tokensPerGroup * topK ? start + chunk : tokensPerGroup * topK;
            for (int e = 0; e < experts; e++)
                counts[gc * experts + e] = 0;
            for (int q = start; q < end; q++)
            {
                int expert = choices[Assignment(order, group, q, tokensPerGroup, topK)];
                counts[gc * experts + expert] += 1;
            }
        }
    }

    /// <summary>
    /// Per (group, expert), the exclusive prefix sum over chunks; totals are the demand, kept = min(demand, C);
    /// then, once every thread's kept counts are in (a group barrier), the dispatch offsets of
    /// <see cref="DispatchListKernels.OffsetsKernel"/> from lane 0: one launch for both. Launched as ONE
    /// thread group (the barrier orders only a group). // counts [G, chunks, E] -> exclusive offsets in
    /// place; demand, kept [G, E]; dispatchOffsets [E*G + 1]
    /// </summary>
    public static void ScanKernel(
        ArrayView<int> counts, ArrayView<int> demand, ArrayView<int> kept, ArrayView<int> dispatchOffsets,
        int groups, int chunksPerGroup, int experts, int capacity)
    {
        int lane = Group.IdxX, lanes = Group.DimX;
        for (int ge = lane; ge < groups * experts; ge += lanes)
        {
            int group = ge / experts;
            int expert = ge - group * experts;
            int running = 0;
            for (int c = 0; c < chunksPerGroup; c++)
            {
                int index = (group * chunksPerGroup + c) * experts + expert;
                int count = counts[index];
                counts[index] = running;
                running += count;
            }
            demand[ge] = running;
            kept[ge] = running < capacity ? running : capacity;
        }
        Group.Barrier();
        if (lane == 0)
            DispatchListKernels.WriteOffsets(kept, dispatchOffsets, groups, experts);
    }

    /// <summary>
    /// Each assignment's slot and, for a kept one, its dispatch row (<c>DispatchListKernels</c>' list, written
    /// here in the same pass: the offsets of each (expert, group) come from the kept counts, known once the
    /// scan ran). // choices [N, K], order [N], offsets [G, chunks, E] (consumed), dispatchOffsets [E*G + 1]
    /// -> slot [N, K] (-1 = dropped), row [N, K] (-1 = dropped), dispatch [kept] = t*K + r
    /// </summary>
    public static void AssignKernel(
        ArrayView<int> choices, ArrayView<int> order, ArrayView<int> offsets, ArrayView<int> dispatchOffsets,
        ArrayView<int> slot, ArrayView<int> row, ArrayView<int> dispatch, SlotShape shape)
    {
        int tokensPerGroup = shape.TokensPerGroup, topK = shape.TopK, experts = shape.Experts, capacity = shape.Capacity;
        int chunksPerGroup = ChunksPerGroup(tokensPerGroup, topK, shape.Chunk);
        int stride = Grid.DimX * Group.DimX;
        for (int gc = Grid.GlobalIndex.X; gc < shape.Groups * chunksPerGroup; gc += stride)
        {
            int group = gc / chunksPerGroup;
            int start = (gc - group * chunksPerGroup) * shape.Chunk;
            int end = start + shape.Chunk < tokensPerGroup * topK ? start + shape.Chunk : tokensPerGroup * topK;
            for (int q = start; q < end; q++)
            {
                int assignment = Assignment(order, group, q, tokensPerGroup, topK);
                int expert = choices[assignment];
                int counter = gc * experts + expert;
                int position = offsets[counter];
                offsets[counter] = position + 1;
                if (position < capacity)
                {
                    int r = dispatchOffsets[expert * shape.Groups + group] + position;
                    slot[assignment] = position;
                    row[assignment] = r;
                    dispatch[r] = assignment;
                }
                else
                {
                    slot[assignment] = -1;
                    row[assignment] = -1;
                }
            }
        }
    }

    /// <summary>Chunks covering one group's K*S priority positions.</summary>
    public static int ChunksPerGroup(int tokensPerGroup, int topK, int chunk) => (tokensPerGroup * topK + chunk - 1) / chunk;

    // Priority position q of a group -> index t * K + r of the assignment it names.
    private static int Assignment(ArrayView<int> order, int group, int q, int tokensPerGroup, int topK)
    {
        int rank = q / tokensPerGroup;
        int visited = q - rank * tokensPerGroup;
        int token = group * tokensPerGroup + order[group * tokensPerGroup + visited];
        return token * topK + rank;
    }
}

/// <summary>Sizes of the capacity pass (one argument, so that the assign kernel stays within ILGPU's launcher arities).</summary>
public struct SlotShape
{
    /// <summary>Routing groups G.</summary>
    public int Groups;
    /// <summary>Tokens per group S.</summary>
    public int TokensPerGroup;
    /// <summary>Top-k K.</summary>
    public int TopK;
    /// <summary>Experts E.</summary>
    public int Experts;
    /// <summary>Priority positions per chunk.</summary>
    public int Chunk;
    /// <summary>Capacity C per expert and group (slots at or past it are dropped).</summary>
    public int Capacity;
}
