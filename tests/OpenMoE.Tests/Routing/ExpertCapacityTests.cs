using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

public class ExpertCapacityTests
{
    /// <summary>
    /// The definitions in exact integer arithmetic, for capacity factors that are multiples of 1/8
    /// (exact in binary, so Python's double evaluation and the exact rational value agree).
    /// </summary>
    [Property(MaxTest = 1000)]
    public void Capacity_formulas_agree_with_their_definitions(PositiveInt tokens, PositiveInt experts, PositiveInt topK, byte eighths, byte minimum)
    {
        long n = tokens.Get % 100_000 + 1, e = experts.Get % 128 + 1, k = 1 + topK.Get % e, min = minimum % 9;
        double cf = eighths / 8.0;

        long numerator = eighths * n, denominator = 8 * e;
        long quotient = numerator / denominator, twiceRemainder = 2 * (numerator % denominator);
        long halfToEven = twiceRemainder < denominator ? quotient
            : twiceRemainder > denominator ? quotient + 1
            : quotient % 2 == 0 ? quotient : quotient + 1;
        Assert.Equal(Math.Max(halfToEven, min), ExpertCapacity.T5x((int)n, (int)e, cf, (int)min));

        long floor = k * eighths * n / (8 * e);
        long even = floor % 2 == 0 ? floor : floor + 1;
        Assert.Equal(Math.Max(even, min), ExpertCapacity.Cai((int)n, (int)e, (int)k, cf, (int)min));

        Assert.Equal(n, ExpertCapacity.Compute(CapacityRule.Dropless, (int)n, (int)e, (int)k, cf, (int)min));
    }

    [Theory]
    [InlineData(10, 4, 1.0, 0, 2)]    // 2.5 rounds half to even: 2 (Python round, not away from zero)
    [InlineData(14, 4, 1.0, 0, 4)]    // 3.5 -> 4
    [InlineData(8, 4, 1.25, 0, 2)]    // 2.5 -> 2: the example in docs/routing.md
    [InlineData(8, 4, 1.25, 4, 4)]    // OpenMoE's min_capacity wins
    [InlineData(4096, 16, 1.25, 4, 320)]
    public void T5x_capacity_rounds_half_to_even_like_python(int n, int e, double cf, int min, int expected) =>
        Assert.Equal(expected, ExpertCapacity.T5x(n, e, cf, min));

    [Theory]
    [InlineData(100, 16, 2, 1.25, 0, 16)]  // floor(15.625) = 15, odd -> 16
    [InlineData(64, 8, 2, 2.0, 4, 32)]
    [InlineData(3, 8, 1, 1.0, 0, 0)]       // floor(0.375) = 0 stays 0: capacity 0 drops everything
    [InlineData(3, 8, 1, 1.0, 4, 4)]
    public void Cai_capacity_floors_then_rounds_up_to_even_then_applies_the_minimum(int n, int e, int k, double cf, int min, int expected) =>
        Assert.Equal(expected, ExpertCapacity.Cai(n, e, k, cf, min));

    [Fact]
    public void Options_from_a_config_take_the_training_or_evaluation_capacity_factor()
    {
        var config = new ModelConfig
        {
            Name = "t", Vocab = 8, Hidden = 4, Heads = 1, KvHeads = 1, HeadDim = 4, Layers = 4,
            ContextLength = 8, NormEps = 1e-6, RopeTheta = 1e4, AttentionScale = AttentionScale.None,
            TiedEmbeddings = false, FfnKind = FfnKind.OpenMoEGated, Ffn = 8,
            MoeLayerRule = MoeLayerRule.EveryN, MoeLayerParameter = 4, Experts = 16, TopK = 2,
            ExpertFfn = 8, SharedExpertKind = SharedExpertKind.SequentialExtraFfn, SharedExperts = 1,
            SharedExpertFfn = 8, Gating = Gating.RawSoftmax, CapacityRule = CapacityRule.T5x,
            TrainCapacityFactor = 1.25, EvalCapacityFactor = 2.0, MinCapacity = 4,
        };
        var train = RoutingOptions.FromConfig(config, training: true);
        var eval = RoutingOptions.FromConfig(config, training: false);
        Assert.Equal((16, 2, 1.25, 4, CapacityRule.T5x, false, (int?)null), (train.Experts, train.TopK, train.CapacityFactor, train.MinCapacity, train.CapacityRule, train.BatchPrioritized, train.GroupSize));
        Assert.Equal(2.0, eval.CapacityFactor);
        Assert.Equal(320, train.CapacityFor(4096));
        Assert.Throws<ArgumentException>(() => (train with { GroupSize = 3 }).TokensPerGroup(10));
    }
}
