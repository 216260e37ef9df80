using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing;

/// <summary>
/// Plain-C# reference of the router's softmax and top-k (the twin of
/// <c>OpenMoE.Kernels.Routing.RouterSoftmaxTopKKernel</c>). The softmax subtracts the row maximum
/// and accumulates in double, then stores fp32, so it is the most accurate fp32 answer we can give.
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

    /// <summary>Softmax, top-k and combine weights for a batch of router logits. // logits [N, E]</summary>
    public static TopKChoices Choose(ReadOnlySpan<float> logits, int tokens, int experts, int topK, Gating gating)
    {
        if (logits.Length != tokens * experts)
            throw new ArgumentException($"Router logits hold {logits.Length} values, expected N*E = {tokens}*{experts}.");
        var probabilities = new float[tokens * experts];
        var choices = new int[tokens * topK];
        var choiceProbabilities = new float[tokens * topK];
        var weights = new float[tokens * topK];
        for (int t = 0; t < tokens; t++)
        {
            var p = probabilities.AsSpan(t * experts, experts);
            Softmax(logits.Slice(t * experts, experts), p);
            var c = choices.AsSpan(t * topK, topK);
            TopK(p, c);
            double topSum = 0;
            for (int r = 0; r < topK; r++)
            {
                choiceProbabilities[t * topK + r] = p[c[r]];
                topSum += p[c[r]];
            }
            for (int r = 0; r < topK; r++)
            {
                float raw = choiceProbabilities[t * topK + r];
                weights[t * topK + r] = gating == Gating.RenormalizedTopK ? (float)(raw / topSum) : raw;
            }
        }
        return new TopKChoices(tokens, experts, topK, probabilities, choices, choiceProbabilities, weights);
    }
}
