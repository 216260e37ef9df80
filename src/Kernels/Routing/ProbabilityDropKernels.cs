using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Dropping by probability (and expert choice): an expert keeps, per group, its C assignments of
/// largest score, ties in priority order; a kept assignment's slot is its rank. Runs after the
/// position passes (<see cref="ExpertSlotKernels"/>, <see cref="DispatchListKernels"/>) were run with
/// unlimited capacity, so that the dispatch list holds every assignment of each (expert, group) in
/// priority order: the candidates to rank. Reference twin: <c>OpenMoE.Model.Routing.ReferenceRouter.Assign</c>;
/// the device must equal it exactly.
/// </summary>
public static class ProbabilityDropKernels
{
    /// <summary>
    /// Per assignment a in run [offsets[e*G+g], offsets[e*G+g+1]) at index row[a]:
    /// rank = #{j in run: key[list[j]] &gt; key[a], or equal and j &lt; row[a]}; slot = rank &lt; C ? rank : -1.
    /// Work per (expert, group) is its demand squared.
    /// // choices [N, K], keys [N, K], row [N, K], list [N*K], offsets [E*G + 1] -> slot [N, K]
    /// </summary>
    public static void RankKernel(
        ArrayView<int> choices, ArrayView<float> keys, ArrayView<int> row, ArrayView<int> list, ArrayView<int> offsets, ArrayView<int> slot,
        int assignments, int topK, int tokensPerGroup, int capacity)
    {
        int groups = assignments / topK / tokensPerGroup;
        int stride = Grid.DimX * Group.DimX;
        for (int a = Grid.GlobalIndex.X; a < assignments; a += stride)
        {
            int group = a / topK / tokensPerGroup;
            int run = choices[a] * groups + group;
            int own = row[a];
            float key = keys[a];
            int rank = 0;
            for (int j = offsets[run]; j < offsets[run + 1]; j++)
            {
                float other = keys[list[j]];
                rank += other > key || (other == key && j < own) ? 1 : 0;
            }
            slot[a] = rank < capacity ? rank : -1;
        }
    }

    /// <summary>kept [G, E] = min(demand, C). // demand [G, E] -> kept [G, E]</summary>
    public static void ClampKeptKernel(ArrayView<int> demand, ArrayView<int> kept, int count, int capacity)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            kept[i] = demand[i] < capacity ? demand[i] : capacity;
    }
}
