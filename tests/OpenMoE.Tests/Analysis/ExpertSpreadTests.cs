using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class ExpertSpreadTests
{
    [Fact]
    public void A_token_always_sent_to_one_expert_has_specialization_one()
    {
        Assert.Equal(1.0, ExpertSpread.Specialization([0, 0, 0, 12, 0, 0, 0, 0], topK: 1), 12);
    }

    [Fact]
    public void A_token_always_sent_to_the_same_two_experts_has_top_k_specialization_one()
    {
        Assert.Equal(1.0, ExpertSpread.Specialization([0, 5, 0, 5], topK: 2), 12);
    }

    [Fact]
    public void An_even_distribution_has_specialization_zero()
    {
        Assert.Equal(0.0, ExpertSpread.Specialization([3, 3, 3, 3], topK: 1), 12);
        Assert.Equal(0.0, ExpertSpread.Specialization([3, 3, 3, 3], topK: 2), 12);
    }

    [Fact]
    public void Half_on_one_expert_half_spread_is_hand_computed()
    {
        // E = 4, K = 1, p = [1/2, 1/6, 1/6, 1/6]: var = ((1/4)^2 + 3 (1/12)^2) / 4 = 1/48;
        // max var = (E-1)/E^2 = 3/16, so S = sqrt((1/48) / (3/16)) = 1/3.
        Assert.Equal(1.0 / 3, ExpertSpread.Specialization([3, 1, 1, 1], topK: 1), 12);
    }

    [Fact]
    public void With_as_many_choices_as_experts_nothing_can_specialise()
    {
        Assert.Equal(0.0, ExpertSpread.Specialization([4, 4], topK: 2), 12);
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(8, 2)]
    [InlineData(32, 2)]
    public void Uniformly_random_routing_gives_the_analytic_baseline(int experts, int topK)
    {
        // 2000 ids seen 10 times each: the RMS spread must be sqrt(1/10) up to sampling noise (~2%).
        var random = new Random(42);
        var values = new List<double>();
        for (int id = 0; id < 2000; id++)
        {
            var counts = new long[experts];
            for (int n = 0; n < 10; n++)
            {
                foreach (var e in Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(topK))
                    counts[e]++;
            }
            values.Add(ExpertSpread.Specialization(counts, topK));
        }
        double expected = Math.Sqrt(ExpertSpread.UniformExpectedSquare(10));
        Assert.InRange(ExpertSpread.RootMeanSquare(values), 0.95 * expected, 1.05 * expected);
    }
}
