using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Router softmax over all experts and top-k choice per token, fp32. Reference twin:
/// <c>OpenMoE.Model.Routing.RouterProbabilities.Choose</c> (double accumulation); the probabilities
/// agree within the tolerance the comparison test declares, the choices exactly on inputs without
/// near-ties. Ties go to the lower expert index (strict <c>&gt;</c> while scanning upwards).
/// </summary>
public static class RouterSoftmaxTopKKernel
{
    /// <summary>
    /// Grouped grid-stride over tokens.
    /// // logits [N, E] -> probabilities [N, E], choices [N, K], choiceProbabilities [N, K], weights [N, K]
    /// </summary>
    /// <param name="renormalize">1: weights are the top-k probabilities divided by their sum; 0: raw.</param>
    public static void Kernel(
        ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<int> choices,
        ArrayView<float> choiceProbabilities, ArrayView<float> weights,
        int tokens, int experts, int topK, int renormalize)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int t = Grid.GlobalIndex.X; t < tokens; t += stride)
        {
            int row = t * experts;
            float max = logits[row];
            for (int e = 1; e < experts; e++)
                max = logits[row + e] > max ? logits[row + e] : max;
            float sum = 0f;
            for (int e = 0; e < experts; e++)
            {
                float p = MathF.Exp(logits[row + e] - max);
                probabilities[row + e] = p;
                sum += p;
            }
            for (int e = 0; e < experts; e++)
                probabilities[row + e] = probabilities[row + e] / sum;

            float topSum = 0f;
            for (int r = 0; r < topK; r++)
            {
                int best = -1;
                float bestP = 0f;
                for (int e = 0; e < experts; e++)
                {
                    if (AlreadyChosen(choices, t * topK, r, e))
                        continue;
                    float p = probabilities[row + e];
                    if (best < 0 || p > bestP)
                    {
                        best = e;
                        bestP = p;
                    }
                }
                choices[t * topK + r] = best;
                choiceProbabilities[t * topK + r] = bestP;
                topSum += bestP;
            }
            for (int r = 0; r < topK; r++)
            {
                float raw = choiceProbabilities[t * topK + r];
                weights[t * topK + r] = renormalize != 0 ? raw / topSum : raw;
            }
        }
    }

    private static bool AlreadyChosen(ArrayView<int> choices, int start, int count, int expert)
    {
        for (int j = 0; j < count; j++)
        {
            if (choices[start + j] == expert)
                return true;
        }
        return false;
    }
}
