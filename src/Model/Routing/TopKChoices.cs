namespace OpenMoE.Model.Routing;

/// <summary>
/// What the router chose for every token before any capacity is applied.
/// Arrays are token-major: entry <c>t * K + r</c> is token t's rank-r choice (r = 0 is the top choice).
/// </summary>
/// <param name="Tokens">N = B*T tokens in batch-major order.</param>
/// <param name="Experts">E.</param>
/// <param name="TopK">K.</param>
/// <param name="Probabilities">Softmax over all experts, fp32. // [N, E]</param>
/// <param name="Choices">Chosen expert per rank, distinct per token, by decreasing probability, ties to the lower index. // [N, K]</param>
/// <param name="ChoiceProbabilities">Raw probability of each choice. // [N, K]</param>
/// <param name="Weights">Combine weight of each choice before dropping (raw or renormalised). // [N, K]</param>
public sealed record TopKChoices(
    int Tokens, int Experts, int TopK,
    float[] Probabilities, int[] Choices, float[] ChoiceProbabilities, float[] Weights)
{
    /// <summary>Expert of token <paramref name="token"/> at rank <paramref name="rank"/>.</summary>
    public int Expert(int token, int rank) => Choices[token * TopK + rank];

    /// <summary>Raw top-1 probability of each token: the key of batch-prioritised routing. // [N]</summary>
    public float[] TopOneProbabilities()
    {
        var top = new float[Tokens];
        for (int t = 0; t < Tokens; t++)
            top[t] = ChoiceProbabilities[t * TopK];
        return top;
    }
}
