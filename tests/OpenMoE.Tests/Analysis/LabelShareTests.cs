using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class LabelShareTests
{
    [Fact]
    public void Domain_shares_lift_and_deviation_match_hand_computed_values()
    {
        // E = 2, K = 1. Domain 0: three tokens, all to expert 0. Domain 1: one to each expert. One padding token.
        int[] domains = [0, 0, 0, 1, 1, -1];
        var batch = new RoutingBatch([10, 11, 12, 13, 14, 0], 6, domains, domains, [SyntheticTraces.Top1(2, 0, 0, 0, 0, 1, 1)], new int[6]);
        var accumulator = LabelShareAccumulator.ByDomain(["code", "prose", "never-seen"], [1], 2);
        accumulator.Add(batch);

        var table = Assert.Single(accumulator.Results());
        Assert.Equal(["code", "prose"], table.Labels);                  // the unseen label is left out
        Assert.Equal([3L, 0], table.Counts[0]);
        Assert.Equal([1L, 1], table.Counts[1]);
        Assert.Equal([0.6, 0.4], table.LabelShare);                     // 3 and 2 of 5 text tokens
        Assert.Equal([0.8, 0.2], table.ExpertShare);
        Assert.Equal([1.0, 0.0], table.ExpertShareByLabel[0]);
        Assert.Equal(1.25, table.Lift[0][0], 12);
        Assert.Equal(0.0, table.Lift[0][1], 12);
        Assert.Equal(0.625, table.Lift[1][0], 12);
        Assert.Equal(2.5, table.Lift[1][1], 12);
        Assert.Equal(0.2, table.TotalVariation[0], 12);
        Assert.Equal(0.3, table.TotalVariation[1], 12);
    }

    [Fact]
    public void Routing_that_ignores_the_label_has_lift_one_everywhere()
    {
        int[] languages = [0, 1, 0, 1];
        var batch = new RoutingBatch([1, 2, 3, 4], 4, [0, 0, 0, 0], languages, [SyntheticTraces.Top1(2, 0, 0, 1, 1)], new int[4]);
        var accumulator = LabelShareAccumulator.ByLanguage(["en", "fr"], [1], 2);
        accumulator.Add(batch);

        var table = accumulator.Results()[0];
        Assert.All(table.Lift.SelectMany(row => row), lift => Assert.Equal(1.0, lift, 12));
        Assert.All(table.TotalVariation, tv => Assert.Equal(0.0, tv, 12));
    }

    [Fact]
    public void Position_buckets_split_the_row_evenly()
    {
        Assert.Equal(["0-1", "2-3", "4-5", "6-7"], PositionBuckets.Names(8, 4));
        Assert.Equal(["0-3", "4-6", "7-9"], PositionBuckets.Names(10, 3));
        Assert.Equal(2, PositionBuckets.Of(5, 8, 4));
        Assert.Equal(2, PositionBuckets.Of(9, 10, 3));
        Assert.Equal(0, PositionBuckets.Of(2, 10, 3));

        // Rows of 4, 2 buckets: the first half goes to expert 0, the second to expert 1.
        var accumulator = LabelShareAccumulator.ByPosition(4, 2, [1], 2);
        accumulator.Add(RoutingBatch.Synthetic([5, 6, 7, 8, 5, 6, 7, 8], 4, SyntheticTraces.Top1(2, 0, 0, 1, 1, 0, 0, 1, 1)));
        var table = accumulator.Results()[0];
        Assert.Equal([4L, 0], table.Counts[0]);
        Assert.Equal([0L, 4], table.Counts[1]);
        Assert.Equal(2.0, table.Lift[0][0], 12);
        Assert.Equal(0.5, table.TotalVariation[1], 12);
    }
}
