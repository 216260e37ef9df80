using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The laws of each routing rule of issue 16, on the reference router (the device equals it:
/// <see cref="DeviceRoutingLaws"/>). Cases come from <see cref="RoutingArbitraries"/>; a law that is about
/// one rule turns the case into that rule, so every case tests it.
/// </summary>
[Properties(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 300)]
public class RoutingRuleLawTests
{
    [Property]
    public void Expert_choice_never_exceeds_capacity_and_fills_every_expert_when_enough_tokens_exist(RoutingCase c)
    {
        var o = c.Options;
        var options = o with
        {
            Rule = RoutingRule.ExpertChoice, TopK = o.Experts, CapacityRule = CapacityRule.T5x, Gating = Gating.RawSoftmax,
            ExpertBias = false, ExpertGroups = 1, TopGroups = 1, BatchPrioritized = false,
        };
        var result = ReferenceRouter.Route(c.Logits, c.Tokens, options);
        var probabilities = RouterProbabilities.Choose(c.Logits, c.Tokens, options, default).Probabilities;
        int size = result.TokensPerGroup, e = o.Experts;
        for (int g = 0; g < result.Groups; g++)
        {
            for (int x = 0; x < e; x++)
            {
                // Expert x's tokens: its C most probable of the group, ties to the lower token (jax.lax.top_k).
                var expected = Enumerable.Range(g * size, size)
                    .OrderByDescending(t => probabilities[t * e + x]).ThenBy(t => t).Take(result.Capacity).Order().ToArray();
                var kept = Enumerable.Range(g * size, size).Where(t => result.IsKept(t, x)).ToArray();
                Assert.Equal(Math.Min(size, result.Capacity), kept.Length);
                Assert.Equal(expected, kept);
                foreach (int t in kept)
                    Assert.Equal(probabilities[t * e + x], result.CombineWeight(t, x));
            }
        }
        Assert.All(Enumerable.Range(0, c.Tokens), t => Assert.Equal(Enumerable.Range(0, e), Enumerable.Range(0, e).Select(r => result.ExpertOf(t, r))));
    }

    [Property]
    public void By_probability_dropping_keeps_per_expert_exactly_the_C_most_probable_assignments(RoutingCase c)
    {
        if (c.Options.Rule == RoutingRule.TokenChoice)
            c = c with { Options = c.Options with { DropPolicy = DropPolicy.ByProbability } };
        var result = c.Route();
        var choices = c.Choose();
        for (int g = 0; g < result.Groups; g++)
        {
            var priority = PriorityOracle.Order(c, g);
            for (int x = 0; x < c.Experts; x++)
            {
                var candidates = priority.Where(a => result.Expert[a] == x).ToList();
                var ranked = candidates.OrderByDescending(a => choices.ChoiceProbabilities[a]).ThenBy(candidates.IndexOf).ToArray();
                for (int rank = 0; rank < ranked.Length; rank++)
                    Assert.Equal(rank < result.Capacity ? rank : -1, result.Slot[ranked[rank]]);
                Assert.Equal(Math.Min(candidates.Count, result.Capacity), result.KeptCount[g * c.Experts + x]);
            }
        }
    }

    /// <summary>
    /// The bias enters the selection only: a bias of +8 on one expert puts it (keys: scores in [0, 1] plus
    /// biases in [-1, 1], so its key is at least 7 and its group's at least 6, above any other group's 4)
    /// among every token's choices, and every weight is still the unbiased score, raw or renormalised
    /// over the chosen scores.
    /// </summary>
    [Property]
    public void The_bias_changes_selection_but_never_combine_weights(RoutingCase c, PositiveInt favourite)
    {
        if (c.Options.Rule == RoutingRule.ExpertChoice)
            return;
        var options = c.Options with { ExpertBias = true };
        int boosted = favourite.Get % c.Experts;
        var bias = c.BiasOrZeros.Select((b, e) => e == boosted ? b + 8f : b).ToArray();
        var biased = RouterProbabilities.Choose(c.Logits, c.Tokens, options, bias);
        for (int t = 0; t < c.Tokens; t++)
        {
            var chosen = biased.Choices.AsSpan(t * c.TopK, c.TopK).ToArray();
            Assert.Contains(boosted, chosen);
            double sum = chosen.Sum(x => (double)biased.Probabilities[t * c.Experts + x]);
            for (int r = 0; r < c.TopK; r++)
            {
                float score = biased.Probabilities[t * c.Experts + chosen[r]];
                float expected = options.Gating == Gating.RenormalizedTopK ? (float)(score / sum) : score;
                Assert.Equal(expected, biased.Weights[t * c.TopK + r]);
            }
        }
        var unbiased = RouterProbabilities.Choose(c.Logits, c.Tokens, options with { ExpertBias = false }, default);
        Assert.Equal(unbiased.Probabilities, biased.Probabilities);
    }

    [Property]
    public void Group_limited_selection_picks_only_from_the_chosen_groups(RoutingCase c, PositiveInt groupsSeed, PositiveInt chosenSeed)
    {
        if (c.Options.Rule == RoutingRule.ExpertChoice)
            return;
        int e = c.Experts;
        var divisors = RoutingArbitraries.Divisors(e).Where(d => d <= 32).ToArray();
        int groups = divisors[groupsSeed.Get % divisors.Length], perGroup = e / groups;
        int chosenGroups = Math.Max(1 + chosenSeed.Get % groups, (c.TopK + perGroup - 1) / perGroup);
        var options = c.Options with { ExpertGroups = groups, TopGroups = chosenGroups };
        var result = RouterProbabilities.Choose(c.Logits, c.Tokens, options, c.BiasOrZeros);
        for (int t = 0; t < c.Tokens; t++)
        {
            var key = Enumerable.Range(0, e)
                .Select(x => options.ExpertBias ? result.Probabilities[t * e + x] + c.BiasOrZeros[x] : result.Probabilities[t * e + x]).ToArray();
            // A group's key is the sum of its two best keys (DeepSeek-V3); the best M groups, ties to the lower group.
            var allowed = Enumerable.Range(0, groups)
                .Select(g => (Group: g, Key: key.Skip(g * perGroup).Take(perGroup).OrderDescending().Take(2).Aggregate(0f, (a, b) => a + b)))
                .OrderByDescending(x => x.Key).ThenBy(x => x.Group).Take(chosenGroups).Select(x => x.Group).ToHashSet();
            var chosen = result.Choices.AsSpan(t * c.TopK, c.TopK).ToArray();
            Assert.All(chosen, x => Assert.Contains(x / perGroup, allowed));
            var expected = Enumerable.Range(0, e).Where(x => allowed.Contains(x / perGroup))
                .OrderByDescending(x => key[x]).ThenBy(x => x).Take(c.TopK).ToArray();
            Assert.Equal(expected, chosen);
        }
    }

    /// <summary>
    /// The mechanism of bias balancing: raising one expert's bias (others fixed) never lowers the number of
    /// tokens that select it, with or without group limits (its group's key can only rise too).
    /// </summary>
    [Property]
    public void Raising_an_experts_bias_never_lowers_its_load(RoutingCase c, PositiveInt expert, PositiveInt steps)
    {
        if (c.Options.Rule == RoutingRule.ExpertChoice)
            return;
        var options = c.Options with { ExpertBias = true };
        int x = expert.Get % c.Experts;
        var raised = c.BiasOrZeros.Select((b, e) => e == x ? b + (1 + steps.Get % 8) / 16f : b).ToArray();
        int Load(float[] bias) => RouterProbabilities.Choose(c.Logits, c.Tokens, options, bias).Choices.Count(e => e == x);
        Assert.True(Load(raised) >= Load(c.BiasOrZeros), $"expert {x}: load {Load(raised)} after raising its bias, {Load(c.BiasOrZeros)} before");
    }

    /// <summary>
    /// DeepSeek-V3's update on a stationary stream (the same batch every step): b_e += gamma * sign(mean - load_e).
    /// From a clearly unbalanced first step (an expert at least half the mean away from it), the load averaged
    /// over the last half of the steps is strictly nearer to uniform, when the batch has enough
    /// assignments (N*K &gt;= 4E) for a nearly uniform load at every step. (From a nearly balanced start the
    /// fixed-rate update oscillates around uniform: no law there. How much nearer depends on how far the bias
    /// must travel: a favourite expert with score ~1 needs 1 / rate steps before it loses a token.)
    /// </summary>
    [Property]
    public void Bias_updates_move_load_towards_uniform_on_a_stationary_stream(RoutingCase c)
    {
        if (c.Options.Rule == RoutingRule.ExpertChoice || c.Experts == 1 || c.TopK == c.Experts || c.Tokens * c.TopK < 4 * c.Experts)
            return;
        var options = c.Options with { ExpertBias = true, ExpertGroups = 1, TopGroups = 1 };
        const int steps = 400;
        const float rate = 0.01f;
        var bias = new float[c.Experts];
        double first = 0;
        var average = new double[c.Experts];
        for (int step = 0; step < steps; step++)
        {
            var choices = RouterProbabilities.Choose(c.Logits, c.Tokens, options, bias).Choices;
            var load = new double[c.Experts];
            foreach (int x in choices)
                load[x]++;
            double mean = load.Average();
            if (step == 0)
                first = Spread(load);
            if (step >= steps / 2)
                for (int x = 0; x < c.Experts; x++)
                    average[x] += load[x] / (steps - steps / 2);
            for (int x = 0; x < c.Experts; x++)
                bias[x] += rate * Math.Sign(mean - load[x]);
        }
        double last = Spread(average);
        if (first >= 0.5)
            Assert.True(last < first, $"spread of the load {first} did not fall ({last})");
    }

    // Largest distance of one expert's load from the mean, over the mean (0 = uniform).
    private static double Spread(double[] load)
    {
        double mean = load.Average();
        return load.Max(l => Math.Abs(l - mean)) / mean;
    }
}
