using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

/// <summary>Small hand-made routing traces for the statistics tests.</summary>
internal static class SyntheticTraces
{
    /// <summary>One layer (index 1) with top-1 routing given per token, everything kept.</summary>
    public static LayerRouting Top1(int experts, params int[] expertPerToken) =>
        new(1, experts, 1, expertPerToken.Length, expertPerToken, Enumerable.Repeat(true, expertPerToken.Length).ToArray());

    /// <summary>One layer with K choices per token ([N, K] row-major) and the given kept flags (null = all kept).</summary>
    public static LayerRouting TopK(int experts, int topK, int[] choices, bool[]? kept = null) =>
        new(1, experts, topK, 4, choices, kept ?? Enumerable.Repeat(true, choices.Length).ToArray());
}
