using OpenMoE.Analysis;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Analysis;

public class CapacityReplayTests
{
    [Fact]
    public void Each_policy_drops_the_tokens_its_order_reaches_last()
    {
        // One row of 4 tokens, all to expert 0 (E = 2, K = 1), top-1 probability rising with position.
        // T5x, cf 1: capacity round(1 * 4 / 2) = 2. By position: tokens 2, 3 drop; batch-prioritised: tokens 0, 1; dropless: none.
        float[] probabilities = [0.6f, 0.4f, 0.7f, 0.3f, 0.8f, 0.2f, 0.9f, 0.1f];
        var layer = new LayerRouting(1, 2, 1, 4, [0, 0, 0, 0], [true, true, true, true], probabilities);
        var batch = RoutingBatch.Synthetic([1, 2, 3, 4], 4, layer);

        var cases = CapacityReplay.Run([batch], CapacityRule.T5x, minCapacity: 1, factors: [1.0], buckets: 2);

        Assert.Equal([ReplayPolicy.ByPosition, ReplayPolicy.BatchPrioritized, ReplayPolicy.Dropless], cases.Select(c => c.Policy));
        Assert.Equal([0.0, 1.0], cases[0].ByBucket);
        Assert.Equal([1.0, 0.0], cases[1].ByBucket);
        Assert.Equal([0.0, 0.0], cases[2].ByBucket);
        Assert.Equal((2, 2, 4), (cases[0].Capacity, cases[1].Capacity, cases[2].Capacity));
        Assert.Equal((0.5, 0.5, 0.0), (cases[0].DropRatio, cases[1].DropRatio, cases[2].DropRatio));
        Assert.Null(cases[2].CapacityFactor);
    }

    [Fact]
    public void Uniform_routing_draws_distinct_experts_and_obeys_the_capacity()
    {
        // E = 1: every token goes to expert 0, capacity round(0.5 * 4 / 1) = 2, so by position tokens 2 and 3 drop.
        var one = RoutingBatch.Synthetic([1, 2, 3, 4], 4, SyntheticTraces.Top1(1, 0, 0, 0, 0));
        var uniformOne = CapacityReplay.UniformRouting([one], CapacityRule.T5x, 0.5, 1, seed: 1).Single().Layers[0];
        Assert.Equal([true, true, false, false], uniformOne.Kept);

        // E = 4, K = 2 over 64 tokens: each token's two experts differ, no expert keeps more than its capacity,
        // the recorded choices are replaced, and the draw is seeded.
        var choices = Enumerable.Range(0, 128).Select(i => i % 2).ToArray();
        var batch = RoutingBatch.Synthetic(new int[64], 64, SyntheticTraces.TopK(4, 2, choices));
        var layer = CapacityReplay.UniformRouting([batch], CapacityRule.T5x, 1.0, 1, seed: 2).Single().Layers[0];
        Assert.All(Enumerable.Range(0, 64), t => Assert.NotEqual(layer.Expert[2 * t], layer.Expert[2 * t + 1]));
        Assert.Equal(16, layer.Capacity);
        Assert.All(Enumerable.Range(0, 4), e => Assert.InRange(Enumerable.Range(0, 128).Count(a => layer.Kept[a] && layer.Expert[a] == e), 0, 16));
        Assert.Contains(layer.Expert, e => e >= 2);
        Assert.Equal(layer.Expert, CapacityReplay.UniformRouting([batch], CapacityRule.T5x, 1.0, 1, seed: 2).Single().Layers[0].Expert);
    }

    [Fact]
    public void Replaying_the_recorded_policy_reproduces_the_recorded_drops()
    {
        const int rows = 3, time = 16, experts = 4;
        var random = new Random(11);
        var logits = Enumerable.Range(0, rows * time * experts).Select(_ => (float)random.NextDouble()).ToArray();
        var options = new RoutingOptions { Experts = experts, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 0.75, MinCapacity = 1 };
        var choices = RouterProbabilities.Choose(logits, rows * time, experts, 2, Gating.RawSoftmax);
        var recorded = ReferenceRouter.Assign(choices, options);
        Assert.True(recorded.DroppedAssignments > 0);
        var layer = new LayerRouting(1, experts, 2, recorded.Capacity, recorded.Expert, recorded.Slot.Select(s => s >= 0).ToArray(), choices.Probabilities);

        var replayed = CapacityReplay.Replay(layer, ReplayPolicy.ByPosition, CapacityRule.T5x, 0.75, 1);
        Assert.Equal(layer.Kept, replayed.Kept);
        Assert.Equal(recorded.Capacity, replayed.Capacity);
        var prioritised = CapacityReplay.Replay(layer, ReplayPolicy.BatchPrioritized, CapacityRule.T5x, 0.75, 1);
        Assert.NotEqual(layer.Kept, prioritised.Kept);
        Assert.Equal(layer.Kept.Count(k => !k), prioritised.Kept.Count(k => !k));   // same demand and capacity, other tokens drop
    }
}
