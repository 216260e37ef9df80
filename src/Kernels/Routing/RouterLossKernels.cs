using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Router losses on the device: per-(group, expert) load statistics, then per token the z-loss
/// term and the gradient of both losses w.r.t. the router logits, fp32. Reference twin:
/// <c>OpenMoE.Model.Routing.RouterLosses</c> (double); the comparison test declares the tolerance.
/// </summary>
public static class RouterLossKernels
{
    /// <summary>
    /// f[g, e] = share of the group's tokens with e among their top-k; meanP[g, e] = mean probability.
    /// // probabilities [N, E], choices [N, K] -> fraction [G, E], meanProbability [G, E]
    /// </summary>
    public static void ExpertLoadKernel(
        ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> fraction, ArrayView<float> meanProbability,
        int groups, int tokensPerGroup, int experts, int topK)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int ge = Grid.GlobalIndex.X; ge < groups * experts; ge += stride)
        {
            int group = ge / experts;
            int expert = ge - group * experts;
            int chosen = 0;
            float sum = 0f;
            for (int i = 0; i < tokensPerGroup; i++)
            {
                int t = group * tokensPerGroup + i;
                sum += probabilities[t * experts + expert];
                for (int r = 0; r < topK; r++)
                    chosen += choices[t * topK + r] == expert ? 1 : 0;
            }
            fraction[ge] = (float)chosen / tokensPerGroup;
            meanProbability[ge] = sum / tokensPerGroup;
        }
    }

    /// <summary>
    /// Per token: z[t] = logsumexp(logits_t)^2 and, added into gradLogits,
    /// <c>lbScale * p * (g - p·g)</c> with <c>g_e = E * f[group, e] / (G * S)</c>, plus
    /// <c>zScale * 2 * lse * softmax(logits) / N</c>. // logits, probabilities [N, E], fraction [G, E] -> z [N], gradLogits [N, E] (+=)
    /// </summary>
    public static void GradientKernel(
        ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<float> fraction,
        ArrayView<float> zPerToken, ArrayView<float> gradLogits,
        int tokens, int experts, int tokensPerGroup, float loadBalancingScale, float zLossScale)
    {
        int groups = tokens / tokensPerGroup;
        float balanceFactor = loadBalancingScale * experts / ((float)groups * tokensPerGroup);
        int stride = Grid.DimX * Group.DimX;
        for (int t = Grid.GlobalIndex.X; t < tokens; t += stride)
        {
            int row = t * experts;
            int load = t / tokensPerGroup * experts;
            float max = logits[row];
            for (int e = 1; e < experts; e++)
                max = logits[row + e] > max ? logits[row + e] : max;
            float sum = 0f;
            float dot = 0f;
            for (int e = 0; e < experts; e++)
            {
                sum += MathF.Exp(logits[row + e] - max);
                dot += probabilities[row + e] * fraction[load + e];
            }
            float lse = max + MathF.Log(sum);
            zPerToken[t] = lse * lse;
            float zFactor = zLossScale * 2f * lse / tokens;
            for (int e = 0; e < experts; e++)
            {
                // The z-loss differentiates logsumexp, so its factor is the softmax of the logits even when
                // the router scores (probabilities) are sigmoids; the balance term runs on softmax scores only.
                float p = probabilities[row + e];
                float softmax = MathF.Exp(logits[row + e] - lse);
                gradLogits[row + e] += balanceFactor * p * (fraction[load + e] - dot) + zFactor * softmax;
            }
        }
    }
}
