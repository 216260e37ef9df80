using ILGPU;

namespace OpenMoE.Kernels.Routing;

/// <summary>
/// Router scores (softmax over all experts, or a sigmoid per expert) and the choice per token, fp32.
/// Reference twin: <c>OpenMoE.Model.Routing.RouterProbabilities.Choose</c> (scores accumulated in double);
/// the scores agree within the tolerance the comparison test declares, the choices exactly on inputs
/// without near-ties. Token choice selects by the key score + bias (bias only when <see cref="RouterRule.UseBias"/>),
/// ties to the lower expert index (strict <c>&gt;</c> while scanning upwards), among the experts of the
/// best <see cref="RouterRule.TopGroups"/> groups (a group's key: the sum of its two largest keys, ties to
/// the lower group). Weights and choice probabilities are unbiased scores.
/// </summary>
public static class RouterSoftmaxTopKKernel
{
    /// <summary>
    /// Grouped grid-stride over tokens.
    /// // logits [N, E], bias [E] -> probabilities [N, E], choices [N, K], choiceProbabilities [N, K], weights [N, K]
    /// </summary>
    public static void Kernel(
        ArrayView<float> logits, ArrayView<float> bias, ArrayView<float> probabilities, ArrayView<int> choices,
        ArrayView<float> choiceProbabilities, ArrayView<float> weights, int tokens, RouterRule rule)
    {
        int experts = rule.Experts, topK = rule.TopK;
        int stride = Grid.DimX * Group.DimX;
        for (int t = Grid.GlobalIndex.X; t < tokens; t += stride)
        {
            int row = t * experts;
            if (rule.Sigmoid != 0)
            {
                for (int e = 0; e < experts; e++)
                    probabilities[row + e] = 1f / (1f + MathF.Exp(-logits[row + e]));
            }
            else
            {
                Softmax(logits, probabilities, row, experts);
            }

            uint allowed = AllowedGroups(probabilities, bias, row, rule);
            int perGroup = experts / rule.Groups;
            float topSum = 0f;
            for (int r = 0; r < topK; r++)
            {
                int best = r;
                if (rule.ExpertChoice == 0)
                {
                    best = -1;
                    float bestKey = 0f;
                    for (int e = 0; e < experts; e++)
                    {
                        if ((allowed & (1u << (e / perGroup))) == 0 || AlreadyChosen(choices, t * topK, r, e))
                            continue;
                        float key = Key(probabilities, bias, row, e, rule.UseBias);
                        if (best < 0 || key > bestKey)
                        {
                            best = e;
                            bestKey = key;
                        }
                    }
                }
                float score = probabilities[row + best];
                choices[t * topK + r] = best;
                choiceProbabilities[t * topK + r] = score;
                topSum += score;
            }
            for (int r = 0; r < topK; r++)
            {
                float raw = choiceProbabilities[t * topK + r];
                weights[t * topK + r] = rule.Renormalize != 0 ? raw / topSum : raw;
            }
        }
    }

    private static void Softmax(ArrayView<float> logits, ArrayView<float> probabilities, int row, int experts)
    {
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
    }

    private static float Key(ArrayView<float> probabilities, ArrayView<float> bias, int row, int expert, int useBias) =>
        useBias != 0 ? probabilities[row + expert] + bias[expert] : probabilities[row + expert];

    // Bit g set: group g is among the best TopGroups groups (all groups without grouping).
    private static uint AllowedGroups(ArrayView<float> probabilities, ArrayView<float> bias, int row, RouterRule rule)
    {
        if (rule.Groups <= 1 || rule.ExpertChoice != 0)
            return 0xFFFFFFFFu;
        uint allowed = 0;
        for (int g = 0; g < rule.Groups; g++)
        {
            float key = GroupKey(probabilities, bias, row, g, rule);
            int better = 0;
            for (int h = 0; h < rule.Groups; h++)
            {
                float other = GroupKey(probabilities, bias, row, h, rule);
                better += other > key || (other == key && h < g) ? 1 : 0;
            }
            if (better < rule.TopGroups)
                allowed |= 1u << g;
        }
        return allowed;
    }

    // Sum of the group's two largest keys, largest first (its one key when the group holds one expert).
    private static float GroupKey(ArrayView<float> probabilities, ArrayView<float> bias, int row, int group, RouterRule rule)
    {
        int perGroup = rule.Experts / rule.Groups, start = group * perGroup;
        int first = start;
        for (int e = start + 1; e < start + perGroup; e++)
            first = Key(probabilities, bias, row, e, rule.UseBias) > Key(probabilities, bias, row, first, rule.UseBias) ? e : first;
        if (perGroup == 1)
            return Key(probabilities, bias, row, first, rule.UseBias);
        int second = first == start ? start + 1 : start;
        for (int e = start; e < start + perGroup; e++)
            second = e != first && Key(probabilities, bias, row, e, rule.UseBias) > Key(probabilities, bias, row, second, rule.UseBias) ? e : second;
        return Key(probabilities, bias, row, first, rule.UseBias) + Key(probabilities, bias, row, second, rule.UseBias);
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
