using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing;

/// <summary>
/// Plain-C# reference of the router's softmax and top-k (the twin of
/// <c>OpenMoE.Kernels.Routing.RouterSoftmaxTopKKernel</c>). The softmax subtracts the row maximum
/// and accumulates in double, then stores fp32, so it is the most accurate fp32 answer we can give.
/// Selection keys (score + bias, group keys) are fp32 sums in the kernel's order, so both pick the same
/// experts whenever their scores agree.
/// </summary>
public static class RouterProbabilities
{
    /// <summary>Softmax of one token's logits. // logits [E] -> probabilities [E]</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits)
            max = Math.Max(max, l);
        double sum = 0;
        for (int e = 0; e < logits.Length; e++)
            sum += Math.Exp((double)logits[e] - max);
        for (int e = 0; e < logits.Length; e++)
            probabilities[e] = (float)(Math.Exp((double)logits[e] - max) / sum);
    }

    /// <summary>
    /// The K largest probabilities, by decreasing value; equal values go to the lower expert index
    /// (the order of <c>jax.lax.top_k</c> and of <c>torch.argmax</c>). // [E] -> [K]
    /// </summary>
    public static void TopK(ReadOnlySpan<float> probabilities, Span<int> choices)
    {
        for (int r = 0; r < choices.Length; r++)
        {
            int best = -1;
            for (int e = 0; e < probabilities.Length; e++)
            {
                if (choices[..r].Contains(e))
                    continue;
                if (best < 0 || probabilities[e] > probabilities[best])
                    best = e;
            }
            choices[r] = best;
        }
    }

    /// <summary>Sigmoid of each logit, computed in double and stored fp32. // logits [E] -> scores [E]</summary>
    public static void Sigmoid(ReadOnlySpan<float> logits, Span<float> scores)
    {
        for (int e = 0; e < logits.Length; e++)
            scores[e] = (float)(1.0 / (1.0 + Math.Exp(-(double)logits[e])));
    }

    /// <summary>
    /// Token choice of one token: the K experts with the largest selection key <c>score + bias</c> (fp32),
    /// by decreasing key, ties to the lower index, among the experts of the <paramref name="topGroups"/>
    /// best of <paramref name="groups"/> equal groups; a group's key is the sum of its two largest expert
    /// keys (its one key when it holds one expert), ties to the lower group (DeepSeek-V3's group-limited
    /// routing). Same fp32 operations as the device kernel, so equal scores give equal choices.
    /// // scores [E], bias [E] or empty -> choices [K]
    /// </summary>
    public static void Select(ReadOnlySpan<float> scores, ReadOnlySpan<float> bias, int groups, int topGroups, Span<int> choices)
    {
        int experts = scores.Length, perGroup = experts / groups;
        Span<float> key = stackalloc float[experts];
        for (int e = 0; e < experts; e++)
            key[e] = bias.IsEmpty ? scores[e] : scores[e] + bias[e];
        Span<float> groupKey = stackalloc float[groups];
        for (int g = 0; g < groups; g++)
            groupKey[g] = GroupKey(key.Slice(g * perGroup, perGroup));
        uint allowed = 0;
        for (int g = 0; g < groups; g++)
        {
            int better = 0;
            for (int h = 0; h < groups; h++)
                better += groupKey[h] > groupKey[g] || (groupKey[h] == groupKey[g] && h < g) ? 1 : 0;
            if (better < topGroups)
                allowed |= 1u << g;
        }
        for (int r = 0; r < choices.Length; r++)
        {
            int best = -1;
            for (int e = 0; e < experts; e++)
            {
                if ((allowed & (1u << (e / perGroup))) == 0 || choices[..r].Contains(e))
                    continue;
                if (best < 0 || key[e] > key[best])
                    best = e;
            }
            choices[r] = best;
        }
    }

    /// <summary>Sum of the two largest keys of a group (the one key of a one-expert group), largest first.</summary>
    public static float GroupKey(ReadOnlySpan<float> keys)
    {
        int first = 0;
        for (int e = 1; e < keys.Length; e++)
            first = keys[e] > keys[first] ? e : first;
        if (keys.Length == 1)
            return keys[0];
        int second = first == 0 ? 1 : 0;
        for (int e = 0; e < keys.Length; e++)
            second = e != first && keys[e] > keys[second] ? e : second;
        return keys[first] + keys[second];
    }

    /// <summary>Softmax, top-k and combine weights for a batch of router logits (OpenMoE's plain token choice). // logits [N, E]</summary>
    public static TopKChoices Choose(ReadOnlySpan<float> logits, int tokens, int experts, int topK, Gating gating) =>
        Choose(logits, tokens, new RoutingOptions
        {
            Experts = experts, TopK = topK, Gating = gating, CapacityRule = Specs.CapacityRule.Dropless, CapacityFactor = 1, MinCapacity = 0,
        }, default);

    /// <summary>
    /// Scores, choices and combine weights of every rule in <paramref name="options"/>: softmax or sigmoid
    /// scores; token choice by <see cref="Select"/> (bias for selection only) or expert choice (rank r is
    /// expert r); weights are the raw scores of the choices or, renormalised, divided by their sum; the
    /// bias never enters a weight. // logits [N, E], bias [E] or empty (zeros)
    /// </summary>
    public static TopKChoices Choose(ReadOnlySpan<float> logits, int tokens, RoutingOptions options, ReadOnlySpan<float> bias)
    {
        int experts = options.Experts, topK = options.TopK;
        if (logits.Length != tokens * experts)
            throw new ArgumentException($"Router logits hold {logits.Length} values, expected N*E = {tokens}*{experts}.");
        if (!bias.IsEmpty && bias.Length != experts)
            throw new ArgumentException($"The expert bias holds {bias.Length} values, expected E = {experts}.");
        var probabilities = new float[tokens * experts];
        var choices = new int[tokens * topK];
        var choiceProbabilities = new float[tokens * topK];
        var weights = new float[tokens * topK];
        for (int t = 0; t < tokens; t++)
        {
            var p = probabilities.AsSpan(t * experts, experts);
            if (options.Scoring == RouterScoring.Sigmoid)
                Sigmoid(logits.Slice(t * experts, experts), p);
            else
                Softmax(logits.Slice(t * experts, experts), p);
            var c = choices.AsSpan(t * topK, topK);
            if (options.Rule == RoutingRule.ExpertChoice)
            {
                for (int r = 0; r < topK; r++)
                    c[r] = r;
            }
            else
            {
                Select(p, options.ExpertBias ? bias : default, options.ExpertGroups, options.TopGroups, c);
            }
            double topSum = 0;
            for (int r = 0; r < topK; r++)
            {
                choiceProbabilities[t * topK + r] = p[c[r]];
                topSum += p[c[r]];
            }
            for (int r = 0; r < topK; r++)
            {
                float raw = choiceProbabilities[t * topK + r];
                weights[t * topK + r] = options.Gating == Gating.RenormalizedTopK ? (float)(raw / topSum) : raw;
            }
        }
        return new TopKChoices(tokens, experts, topK, probabilities, choices, choiceProbabilities, weights);
    }
}
