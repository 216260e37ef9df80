using OpenMoE.Analysis;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Analysis;

public class DropTests
{
    [Fact]
    public void Drop_ratio_by_position_bucket_matches_hand_computed_values()
    {
        // T = 4, K = 2, two rows. Row 0: position 2 loses one choice, position 3 both. Row 1: position 3 loses both.
        bool[] kept =
        [
            true, true, true, true, true, false, false, false,
            true, true, true, true, true, true, false, false,
        ];
        var layer = SyntheticTraces.TopK(4, 2, Enumerable.Range(0, 16).Select(i => i % 4).ToArray(), kept);
        var accumulator = new DropAccumulator("test", [1], 4, 2);
        accumulator.Add(RoutingBatch.Synthetic(Enumerable.Range(10, 8).ToArray(), 4, layer));

        var result = accumulator.Result();
        var drops = Assert.Single(result.Layers);
        Assert.Equal([0.0, 5.0 / 8], drops.ByBucket);     // bucket 1: 5 of 2 rows * 2 positions * 2 choices
        Assert.Equal(5.0 / 16, drops.DropRatio, 12);
        Assert.Equal(2.0 / 8, drops.LostAllChoices, 12);
        Assert.Equal(8, result.TextTokens);
        Assert.Equal(result.Layers[0].ByBucket, result.MeanByBucket);
    }

    [Fact]
    public void One_bucket_per_position_equals_the_routers_own_drop_statistics()
    {
        // A real T5X routing with a tight capacity: the accumulator must agree with RoutingStatistics.
        const int rows = 3, time = 16, experts = 4;
        var random = new Random(5);
        var logits = Enumerable.Range(0, rows * time * experts).Select(_ => (float)random.NextDouble()).ToArray();
        var options = new RoutingOptions { Experts = experts, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 0.5, MinCapacity = 1 };
        var result = ReferenceRouter.Route(logits, rows * time, options);
        var statistics = RoutingStatistics.From(result, time, layer: 1, step: 0);
        Assert.True(result.DroppedAssignments > 0);

        var layer = new LayerRouting(1, experts, 2, result.Capacity, result.Expert, result.Slot.Select(s => s >= 0).ToArray(), SyntheticTraces.Probabilities(experts, 2, result.Expert));
        var accumulator = new DropAccumulator("real", [1], time, time);
        accumulator.Add(RoutingBatch.Synthetic(new int[rows * time], time, layer));
        var drops = accumulator.Result().Layers[0];
        for (int t = 0; t < time; t++)
            Assert.Equal(statistics.DropRatioByPosition[t], drops.ByBucket[t], 12);
        Assert.Equal(statistics.DropRatio, drops.DropRatio, 12);
        Assert.Equal(statistics.FractionTokensLosingAllChoices, drops.LostAllChoices, 12);
    }
}
