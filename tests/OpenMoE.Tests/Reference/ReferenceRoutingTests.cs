using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

public class ReferenceRoutingTests
{
    [Theory]
    [InlineData(CapacityRule.T5x, 1.25, 16, 4, 2, 4, 5)]  // round(5) = 5
    [InlineData(CapacityRule.T5x, 1.25, 8, 4, 2, 1, 2)]   // round(2.5) = 2: half to even, like Python
    [InlineData(CapacityRule.T5x, 1.25, 12, 4, 2, 1, 4)]  // round(3.75) = 4
    [InlineData(CapacityRule.T5x, 2.0, 8, 4, 2, 4, 4)]    // round(4) = 4, no top-k factor
    [InlineData(CapacityRule.T5x, 1.25, 8, 4, 2, 4, 4)]   // min capacity wins
    [InlineData(CapacityRule.Cai, 1.25, 8, 4, 2, 1, 6)]   // floor(2*1.25*8/4) = 5 -> even 6
    [InlineData(CapacityRule.Cai, 1.0, 8, 4, 2, 1, 4)]    // floor(4) = 4, already even
    [InlineData(CapacityRule.Cai, 0.5, 8, 4, 2, 4, 4)]    // floor(2) = 2 -> min 4
    [InlineData(CapacityRule.Dropless, 1.25, 8, 4, 2, 4, 8)]
    public void Capacity_follows_the_rule_by_hand(CapacityRule rule, double cf, int tokens, int experts, int topK, int minCapacity, int expected)
    {
        Assert.Equal(expected, ReferenceRouting.Capacity(rule, cf, tokens, experts, topK, minCapacity));
    }

    [Fact]
    public void Top_k_is_largest_first_and_ties_go_to_the_lower_index()
    {
        double[] probabilities = [0.2, 0.3, 0.3, 0.2];
        Assert.Equal(new[] { 1, 2 }, ReferenceRouting.TopK(probabilities, 2));
        Assert.Equal(new[] { 1, 2, 0 }, ReferenceRouting.TopK(probabilities, 3));
        Assert.Equal(new[] { 3, 0 }, ReferenceRouting.TopK([0.1, 0.05, 0.05, 0.8], 2));
    }

    [Fact]
    public void All_first_choices_are_placed_before_any_second_choice_on_a_hand_case()
    {
        // 8 tokens, 4 experts, capacity 2, top-2. Choices (first, second) per token:
        int[][] choices = [[0, 1], [0, 2], [0, 1], [1, 0], [2, 3], [1, 3], [3, 2], [1, 2]];
        // Rank 0 in token order: t0->e0 slot 0, t1->e0 slot 1, t2->e0 full, t3->e1 slot 0,
        //   t4->e2 slot 0, t5->e1 slot 1, t6->e3 slot 0, t7->e1 full.
        // Rank 1: t0->e1 full, t1->e2 slot 1, t2->e1 full, t3->e0 full, t4->e3 slot 1,
        //   t5->e3 full, t6->e2 full, t7->e2 full.
        int[][] expected = [[0, -1], [1, 1], [-1, -1], [0, -1], [0, 1], [1, -1], [0, -1], [-1, -1]];
        var slots = ReferenceRouting.AssignSlots(choices, experts: 4, capacity: 2);
        Assert.Equal(expected, slots);
        // Tokens 2 and 7 lose both choices: they pass through on the residual only.
    }

    [Fact]
    public void Load_balance_loss_matches_a_hand_computation()
    {
        // 2 tokens, 2 experts, k = 1, both choose expert 0: f = [1, 0], P = [0.65, 0.35] -> 2 * 0.65.
        double[][] probabilities = [[0.7, 0.3], [0.6, 0.4]];
        Assert.Equal(1.3, ReferenceModel.LoadBalanceLoss(probabilities, [[0], [0]], 2), 14);
        // k = 2 counts each token once per chosen expert: f = [1, 1], sum P = 1 -> 2.
        Assert.Equal(2.0, ReferenceModel.LoadBalanceLoss(probabilities, [[0, 1], [0, 1]], 2), 14);
    }

    [Fact]
    public void Router_z_loss_matches_a_hand_computation()
    {
        // Token 0: logsumexp(0, 0) = ln 2; token 1: logsumexp(ln 3, 0) = ln 4.
        double expected = (Math.Log(2) * Math.Log(2) + Math.Log(4) * Math.Log(4)) / 2;
        Assert.Equal(expected, ReferenceModel.RouterZLoss([0, 0, Math.Log(3), 0], tokens: 2, experts: 2), 14);
    }
}
