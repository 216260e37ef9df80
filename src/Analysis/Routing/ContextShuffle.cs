namespace OpenMoE.Analysis;

/// <summary>
/// The context-shuffled control: the same token ids, each row's document tokens permuted among
/// their own positions (Fisher-Yates, seeded), so a token keeps its id but loses its context.
/// BOS and padding (label -1) stay where they are, and every token carries its domain and language
/// label with it. If routing depended only on the token id, the token-id figures would not change.
/// </summary>
public static class ContextShuffle
{
    /// <summary>
    /// Shuffled copies of a batch's inputs and labels. // each [B*T]
    /// The permutation of row b depends only on (<paramref name="seed"/>, <paramref name="batchIndex"/>, b).
    /// </summary>
    public static (int[] Inputs, int[] DomainIds, int[] LanguageIds) Permute(
        int[] inputs, int[] domainIds, int[] languageIds, int sequenceLength, ulong seed, int batchIndex)
    {
        int[] tokens = (int[])inputs.Clone(), domains = (int[])domainIds.Clone(), languages = (int[])languageIds.Clone();
        for (int start = 0, row = 0; start < inputs.Length; start += sequenceLength, row++)
        {
            var text = Enumerable.Range(start, sequenceLength).Where(i => domainIds[i] >= 0).ToArray();
            // Not HashCode.Combine: it is randomised per process, and the control must rerun identically.
            var random = new Random(unchecked((int)(seed * 1_000_003UL + (ulong)batchIndex * 7_919UL + (ulong)row)));
            var order = (int[])text.Clone();
            random.Shuffle(order);
            for (int j = 0; j < text.Length; j++)
            {
                tokens[text[j]] = inputs[order[j]];
                domains[text[j]] = domainIds[order[j]];
                languages[text[j]] = languageIds[order[j]];
            }
        }
        return (tokens, domains, languages);
    }
}
