using OpenMoE.Model.Generation;

namespace OpenMoE.Tests.Generation;

public class TokenSamplerTests
{
    private static readonly float[] Logits = [0.5f, 2.0f, 1.0f, -1.0f];

    [Fact]
    public void Temperature_zero_is_argmax()
    {
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 0 });
        Assert.Equal(1, sampler.Next(Logits));
    }

    [Fact]
    public void Top_k_of_one_and_a_tiny_top_p_are_argmax_at_any_temperature()
    {
        var topK = new TokenSampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 3 });
        var topP = new TokenSampler(new SamplingOptions { Temperature = 5, TopP = 1e-9, Seed = 3 });
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(1, topK.Next(Logits));
            Assert.Equal(1, topP.Next(Logits));
        }
    }

    [Fact]
    public void Samples_follow_the_softmax_at_temperature_one()
    {
        var sampler = new TokenSampler(new SamplingOptions { Seed = 11 });
        var counts = new int[Logits.Length];
        const int draws = 40_000;
        for (int i = 0; i < draws; i++)
            counts[sampler.Next(Logits)]++;
        double z = Logits.Sum(v => Math.Exp(v));
        for (int v = 0; v < Logits.Length; v++)
        {
            double p = Math.Exp(Logits[v]) / z;
            double sigma = Math.Sqrt(p * (1 - p) / draws);
            Assert.InRange(counts[v] / (double)draws, p - 5 * sigma, p + 5 * sigma);
        }
    }

    [Fact]
    public void Top_k_never_samples_outside_the_k_best()
    {
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 10, TopK = 2, Seed = 1 });
        for (int i = 0; i < 500; i++)
            Assert.Contains(sampler.Next(Logits), new[] { 1, 2 });
    }

    [Fact]
    public void Same_seed_gives_the_same_stream()
    {
        var a = new TokenSampler(new SamplingOptions { Seed = 42 });
        var b = new TokenSampler(new SamplingOptions { Seed = 42 });
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => a.Next(Logits)), Enumerable.Range(0, 50).Select(_ => b.Next(Logits)));
    }

    [Theory]
    [InlineData(-1.0, 0, 1.0, "--temperature")]
    [InlineData(1.0, -2, 1.0, "--top-k")]
    [InlineData(1.0, 0, 0.0, "--top-p")]
    [InlineData(1.0, 0, 1.5, "--top-p")]
    public void Out_of_range_options_name_the_option(double temperature, int topK, double topP, string option)
    {
        var error = Assert.Throws<ArgumentException>(() => new TokenSampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }));
        Assert.Contains(option, error.Message);
    }
}
