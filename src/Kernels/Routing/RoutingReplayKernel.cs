using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Routing replay: choices forced from a recording, scores and weights from this forward's router, so
/// gradients still reach the router. The weights come from the same fp32 operations in the same order
/// as <see cref="RouterSoftmaxTopKKernel"/>: replaying a forward's own choices reproduces its weights bit
/// for bit. Reference twin: the weight step of <c>OpenMoE.Model.Routing.RouterProbabilities.Choose</c>.
/// </summary>
public static class RoutingReplayKernel
{
    /// <summary>// probabilities [N, E], choices [N, K] -> choiceProbabilities [N, K], weights [N, K]</summary>
    public static void Kernel(
        ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> choiceProbabilities, ArrayView<float> weights,
        int tokens, int experts, int topK, int renormalize)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int t = Grid.GlobalIndex.X; t < tokens; t += stride)
        {
            float topSum = 0f;
            for (int r = 0; r < topK; r++)
            {
                float score = probabilities[t * experts + choices[t * topK + r]];
                choiceProbabilities[t * topK + r] = score;
                topSum += score;
            }
            for (int r = 0; r < topK; r++)
            {
                float raw = choiceProbabilities[t * topK + r];
                weights[t * topK + r] = renormalize != 0 ? raw / topSum : raw;
            }
        }
    }
}
