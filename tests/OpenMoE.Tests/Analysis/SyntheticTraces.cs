using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

/// <summary>Small hand-made routing traces for the statistics tests.</summary>
internal static class SyntheticTraces
{
    /// <summary>One layer (index 1) with top-1 routing given per token, everything kept.</summary>
    public static LayerRouting Top1(int experts, params int[] expertPerToken) =>
        new(1, experts, 1, expertPerToken.Length, expertPerToken, Enumerable.Repeat(true, expertPerToken.Length).ToArray(), Probabilities(experts, 1, expertPerToken));

    /// <summary>One layer with K choices per token ([N, K] row-major) and the given kept flags (null = all kept).</summary>
    public static LayerRouting TopK(int experts, int topK, int[] choices, bool[]? kept = null) =>
        new(1, experts, topK, 4, choices, kept ?? Enumerable.Repeat(true, choices.Length).ToArray(), Probabilities(experts, topK, choices));

    /// <summary>
    /// A softmax whose top-k is exactly <paramref name="choices"/>: the rank-r choice has weight 2K - r,
    /// every other expert 1, normalised. // [N, E]
    /// </summary>
    public static float[] Probabilities(int experts, int topK, int[] choices)
    {
        int tokens = choices.Length / topK;
        var probabilities = new float[tokens * experts];
        float total = experts - topK + Enumerable.Range(0, topK).Sum(r => 2f * topK - r);
        for (int t = 0; t < tokens; t++)
        {
            for (int e = 0; e < experts; e++)
                probabilities[t * experts + e] = 1 / total;
            for (int r = 0; r < topK; r++)
                probabilities[t * experts + choices[t * topK + r]] = (2f * topK - r) / total;
        }
        return probabilities;
    }
}
