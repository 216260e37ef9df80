using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// The gather list for the expert FFNs: kept assignments grouped by expert, then group, then slot,
/// so each expert's rows are contiguous. Reference twin: the tail of
/// <c>OpenMoE.Model.Routing.ReferenceRouter.Assign</c>.
/// </summary>
public static class DispatchListKernels
{
    /// <summary>
    /// Exclusive prefix sum of kept counts in (expert, group) order; one thread, because E*G is small
    /// (OpenMoE: 32 experts x a few groups). // kept [G, E] -> offsets [E*G + 1]
    /// </summary>
    public static void OffsetsKernel(ArrayView<int> kept, ArrayView<int> offsets, int groups, int experts)
    {
        if (Grid.GlobalIndex.X == 0)
            WriteOffsets(kept, offsets, groups, experts);
    }

    /// <summary>The prefix sum of <see cref="OffsetsKernel"/>, in the calling thread (internal: kernels call it, discovery skips it).</summary>
    internal static void WriteOffsets(ArrayView<int> kept, ArrayView<int> offsets, int groups, int experts)
    {
        int running = 0;
        for (int e = 0; e < experts; e++)
        {
            for (int g = 0; g < groups; g++)
            {
                offsets[e * groups + g] = running;
                running += kept[g * experts + e];
            }
        }
        offsets[experts * groups] = running;
    }

    /// <summary>
    /// Grouped grid-stride over assignments.
    /// // choices [N, K], slot [N, K], offsets [E*G + 1] -> row [N, K] (-1 = dropped), dispatch [kept] = t*K + r
    /// </summary>
    public static void FillKernel(
        ArrayView<int> choices, ArrayView<int> slot, ArrayView<int> offsets, ArrayView<int> row, ArrayView<int> dispatch,
        int assignments, int topK, int tokensPerGroup, int groups)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int a = Grid.GlobalIndex.X; a < assignments; a += stride)
        {
            int s = slot[a];
            if (s < 0)
            {
                row[a] = -1;
                continue;
            }
            int group = a / topK / tokensPerGroup;
            int r = offsets[choices[a] * groups + group] + s;
            row[a] = r;
            dispatch[r] = a;
        }
    }
}
