using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Order in which each routing group's tokens are visited within every choice rank. Reference twin:
/// <c>OpenMoE.Model.Routing.ReferenceRouter.VisitOrder</c>. Batch-prioritised routing is a stable
/// sort by decreasing top-1 probability, computed here as a rank by counting
/// (<c>#{j: p_j &gt; p_t} + #{j &lt; t: p_j == p_t}</c>): O(group^2) work but exact and order-free.
/// </summary>
public static class RoutingVisitOrderKernel
{
    /// <summary>
    /// Grouped grid-stride over tokens. Writes <c>order[g * S + rank] = local index</c>.
    /// // choiceProbabilities [N, K] (rank 0 is the key) -> order [N]
    /// </summary>
    public static void Kernel(
        ArrayView<float> choiceProbabilities, ArrayView<int> order,
        int tokens, int topK, int tokensPerGroup, int batchPrioritized)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int t = Grid.GlobalIndex.X; t < tokens; t += stride)
        {
            int group = t / tokensPerGroup;
            int local = t - group * tokensPerGroup;
            int rank = local;
            if (batchPrioritized != 0)
            {
                float key = choiceProbabilities[t * topK];
                rank = 0;
                for (int j = 0; j < tokensPerGroup; j++)
                {
                    float other = choiceProbabilities[(group * tokensPerGroup + j) * topK];
                    if (other > key || (other == key && j < local))
                        rank++;
                }
            }
            order[group * tokensPerGroup + rank] = local;
        }
    }
}
