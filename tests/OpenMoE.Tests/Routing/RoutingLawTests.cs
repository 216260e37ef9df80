using FsCheck.Xunit;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

/// <summary>The capacity and dropping laws of issue 4, on the reference router, for every routing rule of issue 16.</summary>
[Properties(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 300)]
public class RoutingLawTests
{
    [Property]
    public void No_expert_ever_holds_more_than_its_capacity(RoutingCase c)
    {
        var result = c.Route();
        for (int g = 0; g < result.Groups; g++)
        {
            for (int e = 0; e < c.Experts; e++)
            {
                var slots = Enumerable.Range(0, result.Assignments)
                    .Where(a => PriorityOracle.GroupOf(result, a) == g && result.Expert[a] == e && result.Slot[a] >= 0)
                    .Select(a => result.Slot[a]).ToArray();
                Assert.True(slots.Length <= result.Capacity, $"expert {e} group {g} holds {slots.Length} > C={result.Capacity}");
                Assert.Equal(Enumerable.Range(0, slots.Length), slots.Order());
                Assert.Equal(slots.Length, result.KeptCount[g * c.Experts + e]);
            }
        }
    }

    [Property]
    public void A_token_keeps_at_most_k_distinct_experts_each_among_its_top_k(RoutingCase c)
    {
        var result = c.Route();
        var probabilities = c.Choose().Probabilities;
        for (int t = 0; t < c.Tokens; t++)
        {
            var chosen = Enumerable.Range(0, c.TopK).Select(r => result.ExpertOf(t, r)).ToArray();
            Assert.Equal(c.TopK, chosen.Distinct().Count());
            // Biased and group-limited selection have their own laws (RoutingRuleLawTests); expert choice lists every expert.
            if (c.Options.ExpertBias || c.Options.ExpertGroups > 1 || c.Options.Rule == RoutingRule.ExpertChoice)
                continue;
            var p = probabilities.AsSpan(t * c.Experts, c.Experts).ToArray();
            for (int r = 0; r < c.TopK; r++)
            {
                for (int other = 0; other < c.Experts; other++)
                {
                    if (chosen.Contains(other))
                        continue;
                    // Every unchosen expert is less likely, or equally likely with a higher index.
                    Assert.True(p[other] < p[chosen[r]] || (p[other] == p[chosen[r]] && other > chosen[r]),
                        $"token {t}: expert {other} (p={p[other]}) should outrank choice {chosen[r]} (p={p[chosen[r]]})");
                }
                if (r > 0)
                    Assert.True(p[chosen[r - 1]] > p[chosen[r]] || (p[chosen[r - 1]] == p[chosen[r]] && chosen[r - 1] < chosen[r]));
            }
        }
    }

    [Property]
    public void An_assignment_is_dropped_only_if_its_expert_is_full_of_assignments_before_it_in_priority(RoutingCase c)
    {
        // Dropping by position; by probability has its own law (RoutingRuleLawTests).
        var options = c.Options.Rule == RoutingRule.ExpertChoice ? c.Options : c.Options with { DropPolicy = DropPolicy.ByPosition };
        c = c with { Options = options };
        var result = c.Route();
        if (options.KeepsMostProbable)
            return;
        for (int g = 0; g < result.Groups; g++)
        {
            var keptSoFar = new int[c.Experts];
            foreach (int a in PriorityOracle.Order(c, g))
            {
                int e = result.Expert[a];
                if (result.Slot[a] >= 0)
                {
                    Assert.Equal(keptSoFar[e], result.Slot[a]);
                    keptSoFar[e]++;
                }
                else
                {
                    Assert.Equal(result.Capacity, keptSoFar[e]);
                }
            }
        }
    }

    [Property]
    public void Kept_plus_dropped_is_N_times_k_and_kept_is_the_sum_of_min_demand_capacity(RoutingCase c)
    {
        var result = c.Route();
        int kept = result.Slot.Count(s => s >= 0);
        int dropped = result.Slot.Count(s => s < 0);
        Assert.Equal(c.Tokens * c.TopK, kept + dropped);
        Assert.Equal(kept, result.KeptAssignments);
        int expected = 0;
        for (int g = 0; g < result.Groups; g++)
        {
            for (int e = 0; e < c.Experts; e++)
            {
                int demand = Enumerable.Range(0, result.Assignments).Count(a => PriorityOracle.GroupOf(result, a) == g && result.Expert[a] == e);
                Assert.Equal(demand, result.Demand[g * c.Experts + e]);
                expected += Math.Min(demand, result.Capacity);
            }
        }
        Assert.Equal(expected, kept);
    }

    [Property]
    public void Dropless_or_capacity_at_least_the_group_size_drops_nothing(RoutingCase c)
    {
        int groupSize = c.Options.TokensPerGroup(c.Tokens);
        var roomy = c.Options with { CapacityOverride = groupSize + (c.Tokens % 3) };
        Assert.All(ReferenceRouter.Route(c.Logits, c.Tokens, roomy, c.BiasOrZeros).Slot, s => Assert.True(s >= 0));
        if (c.Options.Rule == RoutingRule.ExpertChoice)
            return; // expert choice takes the T5X rule only (a dropless expert choice is a dense layer)
        var dropless = c.Options with { CapacityRule = CapacityRule.Dropless, CapacityOverride = null };
        Assert.All(ReferenceRouter.Route(c.Logits, c.Tokens, dropless, c.BiasOrZeros).Slot, s => Assert.True(s >= 0));
    }

    [Property]
    public void Raising_the_capacity_never_drops_an_assignment_that_was_kept(RoutingCase c, byte extra)
    {
        int capacity = c.Options.CapacityFor(c.Options.TokensPerGroup(c.Tokens));
        var low = ReferenceRouter.Route(c.Logits, c.Tokens, c.Options with { CapacityOverride = capacity }, c.BiasOrZeros);
        var high = ReferenceRouter.Route(c.Logits, c.Tokens, c.Options with { CapacityOverride = capacity + extra % 5 }, c.BiasOrZeros);
        for (int a = 0; a < low.Assignments; a++)
        {
            if (low.Slot[a] >= 0)
                Assert.Equal(low.Slot[a], high.Slot[a]);
        }
    }

    [Property]
    public void Routing_groups_are_routed_independently(RoutingCase c)
    {
        var result = c.Route();
        int size = result.TokensPerGroup;
        for (int g = 0; g < result.Groups; g++)
        {
            var logits = c.Logits.AsSpan(g * size * c.Experts, size * c.Experts);
            var alone = ReferenceRouter.Route(logits, size, c.Options with { GroupSize = null, CapacityOverride = result.Capacity }, c.BiasOrZeros);
            Assert.Equal(alone.Slot, result.Slot.AsSpan(g * size * c.TopK, size * c.TopK).ToArray());
            Assert.Equal(alone.Expert, result.Expert.AsSpan(g * size * c.TopK, size * c.TopK).ToArray());
        }
    }

    [Property]
    public void Dispatch_list_holds_each_kept_assignment_once_by_expert_group_then_slot(RoutingCase c)
    {
        var result = c.Route();
        Assert.Equal(result.KeptAssignments, result.DispatchOrder.Length);
        Assert.Equal(Enumerable.Range(0, result.Assignments).Where(a => result.Slot[a] >= 0).Order(), result.DispatchOrder.Order());
        for (int i = 0; i < result.DispatchOrder.Length; i++)
            Assert.Equal(i, result.Row[result.DispatchOrder[i]]);
        var keys = result.DispatchOrder.Select(a => (result.Expert[a], PriorityOracle.GroupOf(result, a), result.Slot[a])).ToArray();
        Assert.Equal(keys.Order(), keys);
        Assert.All(Enumerable.Range(0, result.Assignments), a => Assert.Equal(result.Slot[a] < 0, result.Row[a] < 0));
    }
}
