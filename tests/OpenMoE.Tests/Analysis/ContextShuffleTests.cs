using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class ContextShuffleTests
{
    [Fact]
    public void Document_tokens_are_permuted_within_their_row_with_their_labels()
    {
        const int time = 64;
        // Two rows; position 0 is BOS and the last 4 positions padding (label -1); labels encode the token.
        var inputs = Enumerable.Range(0, 2 * time).Select(i => 1000 + i).ToArray();
        var domains = inputs.Select((id, i) => i % time == 0 || i % time >= time - 4 ? -1 : id % 7).ToArray();
        var languages = inputs.Select((id, i) => domains[i] < 0 ? -1 : id % 5).ToArray();

        var (tokens, shuffledDomains, shuffledLanguages) = ContextShuffle.Permute(inputs, domains, languages, time, seed: 4, batchIndex: 0);

        for (int row = 0; row < 2; row++)
        {
            var span = Enumerable.Range(row * time, time).ToArray();
            Assert.Equal(span.Select(i => inputs[i]).Order(), span.Select(i => tokens[i]).Order());   // same tokens, same row
            Assert.NotEqual(span.Select(i => inputs[i]), span.Select(i => tokens[i]));                 // in another order
        }
        for (int i = 0; i < inputs.Length; i++)
        {
            if (domains[i] < 0)
                Assert.Equal((inputs[i], -1, -1), (tokens[i], shuffledDomains[i], shuffledLanguages[i]));   // BOS and padding stay
            else
                Assert.Equal((tokens[i] % 7, tokens[i] % 5), (shuffledDomains[i], shuffledLanguages[i]));  // labels travel with the token
        }
        Assert.Equal(tokens, ContextShuffle.Permute(inputs, domains, languages, time, 4, 0).Inputs);       // reruns identically
        Assert.NotEqual(tokens, ContextShuffle.Permute(inputs, domains, languages, time, 4, 1).Inputs);    // another batch, another order
    }
}
