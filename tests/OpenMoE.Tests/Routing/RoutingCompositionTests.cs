using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

/// <summary>Laws about order, causality and what routing does to activations.</summary>
[Properties(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 200)]
public class RoutingCompositionTests
{
    /// <summary>
    /// Held fixed: the capacity C (the short batch's rule capacity, as an override), one routing group,
    /// token-order priority. Only first choices are protected: a later token's first choice comes
    /// before every second choice (see the fact below), so for K = 1 every assignment is protected.
    /// </summary>
    [Property]
    public void Appending_tokens_never_changes_earlier_first_choices_at_fixed_capacity(RoutingCase c, PositiveInt added, int seed)
    {
        var (shortRun, longRun) = RouteWithAppended(c, added.Get % 9, seed, fixedCapacity: true);
        for (int t = 0; t < c.Tokens; t++)
        {
            Assert.Equal(shortRun.ExpertOf(t, 0), longRun.ExpertOf(t, 0));
            Assert.Equal(shortRun.SlotOf(t, 0), longRun.SlotOf(t, 0));
        }
    }

    /// <summary>Held fixed: the rule (capacity grows with N, never shrinks), one group, token-order priority.</summary>
    [Property]
    public void Appending_tokens_with_rule_capacity_keeps_every_earlier_kept_first_choice_in_its_slot(RoutingCase c, PositiveInt added, int seed)
    {
        var (shortRun, longRun) = RouteWithAppended(c, added.Get % 9, seed, fixedCapacity: false);
        Assert.True(longRun.Capacity >= shortRun.Capacity);
        for (int t = 0; t < c.Tokens; t++)
        {
            if (shortRun.IsKept(t, 0))
                Assert.Equal(shortRun.SlotOf(t, 0), longRun.SlotOf(t, 0));
        }
    }

    /// <summary>Why generation refuses expert choice (flaxformer's own warning): a later token takes an earlier token's expert.</summary>
    [Fact]
    public void Expert_choice_lets_a_later_token_displace_an_earlier_tokens_expert()
    {
        var options = new RoutingOptions
        {
            Experts = 2, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 1, MinCapacity = 0, CapacityOverride = 1, Rule = RoutingRule.ExpertChoice,
        };
        var alone = ReferenceRouter.Route([1f, 0f], 1, options);
        var withLater = ReferenceRouter.Route([1f, 0f, 2f, 0f], 2, options);
        Assert.True(alone.IsKept(0, 0));
        Assert.False(withLater.IsKept(0, 0));
        Assert.True(withLater.IsKept(1, 0));
    }

    [Fact]
    public void Appending_a_token_can_displace_an_earlier_second_choice()
    {
        var options = new RoutingOptions { Experts = 2, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 1, MinCapacity = 0, CapacityOverride = 1 };
        var alone = ReferenceRouter.Route([1f, 0f], 1, options);
        var withLater = ReferenceRouter.Route([1f, 0f, 0f, 1f], 2, options);
        Assert.True(alone.IsKept(0, 1));
        Assert.False(withLater.IsKept(0, 1));
        Assert.True(withLater.IsKept(1, 0));
    }

    [Property]
    public void Without_overflow_permuting_tokens_permutes_the_result(RoutingCase c, int seed)
    {
        var options = c.Options with { GroupSize = null, CapacityOverride = c.Tokens };
        var permutation = Enumerable.Range(0, c.Tokens).ToArray();
        new Random(seed).Shuffle(permutation);
        var permutedLogits = permutation.SelectMany(t => c.Logits.Skip(t * c.Experts).Take(c.Experts)).ToArray();
        var original = ReferenceRouter.Route(c.Logits, c.Tokens, options);
        var permuted = ReferenceRouter.Route(permutedLogits, c.Tokens, options);
        for (int i = 0; i < c.Tokens; i++)
        {
            for (int r = 0; r < c.TopK; r++)
            {
                Assert.Equal(original.ExpertOf(permutation[i], r), permuted.ExpertOf(i, r));
                Assert.Equal(original.CombineWeight(permutation[i], r), permuted.CombineWeight(i, r));
                Assert.True(permuted.IsKept(i, r));
            }
        }
        for (int e = 0; e < c.Experts; e++)
        {
            var before = original.DispatchedTo(e).Select(x => (x.Token, x.Rank)).Order();
            var after = permuted.DispatchedTo(e).Select(x => (permutation[x.Token], x.Rank)).Order();
            Assert.Equal(before, after);
        }
    }

    [Property]
    public void Dispatch_then_combine_with_identity_experts_returns_sum_of_kept_weights_times_x_and_its_gradient_matches(RoutingCase c, int seed)
    {
        var random = new Random(seed);
        int d = 1 + random.Next(4);
        var result = c.Route();
        var x = Enumerable.Range(0, c.Tokens * d).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var gradY = Enumerable.Range(0, c.Tokens * d).Select(_ => random.NextDouble() * 2 - 1).ToArray();

        var rows = DispatchCombineReference.Dispatch(result, x, d);
        var y = DispatchCombineReference.Combine(result, rows, d);
        var (gradRows, gradWeight) = DispatchCombineReference.CombineBackward(result, rows, gradY, d);
        var gradX = DispatchCombineReference.DispatchBackward(result, gradRows, d);
        for (int t = 0; t < c.Tokens; t++)
        {
            double kept = Enumerable.Range(0, c.TopK).Sum(r => (double)result.CombineWeight(t, r));
            double dot = Enumerable.Range(0, d).Sum(j => x[t * d + j] * gradY[t * d + j]);
            for (int j = 0; j < d; j++)
            {
                Assert.Equal(kept * x[t * d + j], y[t * d + j], 1e-12);
                Assert.Equal(kept * gradY[t * d + j], gradX[t * d + j], 1e-12);
            }
            for (int r = 0; r < c.TopK; r++)
                Assert.Equal(result.IsKept(t, r) ? dot : 0.0, gradWeight[t * c.TopK + r], 1e-12);
        }

        // The loss <y, gradY> is linear in x, so a central difference is exact up to rounding.
        var direction = Enumerable.Range(0, x.Length).Select(_ => random.NextDouble() - 0.5).ToArray();
        double Loss(double h) => DispatchCombineReference.Combine(result,
            DispatchCombineReference.Dispatch(result, x.Select((v, i) => v + h * direction[i]).ToArray(), d), d)
            .Select((v, i) => v * gradY[i]).Sum();
        double numeric = (Loss(1e-3) - Loss(-1e-3)) / 2e-3;
        double analytic = gradX.Select((g, i) => g * direction[i]).Sum();
        Assert.Equal(analytic, numeric, 1e-9);
    }

    [Property(MaxTest = 100)]
    public void One_expert_with_k_1_weight_1_and_no_dropping_equals_the_dense_ffn(PositiveInt tokens, int seed, bool dropless)
    {
        var random = new Random(seed);
        int n = 1 + tokens.Get % 20, d = 1 + random.Next(6), f = 1 + random.Next(6);
        var ffn = GatedFfnReference.Random(d, f, random);
        var options = new RoutingOptions
        {
            Experts = 1, TopK = 1, MinCapacity = 0, CapacityFactor = 1.25,
            CapacityRule = dropless ? CapacityRule.Dropless : CapacityRule.T5x,
            CapacityOverride = dropless ? null : n,
        };
        var logits = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 20 - 10)).ToArray();
        var result = ReferenceRouter.Route(logits, n, options);
        Assert.All(result.Weight, w => Assert.Equal(1f, w));
        var x = Enumerable.Range(0, n * d).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var moe = DispatchCombineReference.MoeForward(result, x, d, (_, row) => ffn.Apply(row));
        for (int t = 0; t < n; t++)
        {
            var dense = ffn.Apply(x[(t * d)..((t + 1) * d)]);
            for (int j = 0; j < d; j++)
                Assert.Equal(dense[j], moe[t * d + j]);
        }
    }

    private static (RoutingResult Short, RoutingResult Long) RouteWithAppended(RoutingCase c, int added, int seed, bool fixedCapacity)
    {
        var random = new Random(seed);
        var extra = Enumerable.Range(0, added * c.Experts).Select(_ => random.Next(-64, 65) / 16f);
        var longLogits = c.Logits.Concat(extra).ToArray();
        // Causality holds for dropping by position only: by probability (and expert choice, see the fact
        // above) a later, more probable assignment displaces an earlier one.
        var options = c.Options with { GroupSize = null, BatchPrioritized = false, Rule = RoutingRule.TokenChoice, DropPolicy = DropPolicy.ByPosition };
        if (fixedCapacity)
            options = options with { CapacityOverride = options.CapacityFor(c.Tokens) };
        else
            options = options with { CapacityOverride = null };
        return (ReferenceRouter.Route(c.Logits, c.Tokens, options), ReferenceRouter.Route(longLogits, c.Tokens + added, options));
    }
}
