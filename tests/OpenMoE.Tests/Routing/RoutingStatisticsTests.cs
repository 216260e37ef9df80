using FsCheck.Xunit;
using OpenMoE.Model.Routing;

namespace OpenMoE.Tests.Routing;

public class RoutingStatisticsTests
{
    [Property(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 200)]
    public void Statistics_count_every_assignment_once_by_expert_and_by_position(RoutingCase c)
    {
        var result = c.Route();
        var stats = RoutingStatistics.From(result, c.SequenceLength, layer: 3, step: 7);
        int sequences = c.Tokens / c.SequenceLength;
        Assert.Equal(c.Tokens * c.TopK, stats.Demand.Sum());
        Assert.Equal(stats.KeptAssignments, stats.Kept.Sum());
        Assert.Equal(c.Tokens * c.TopK, stats.KeptAssignments + stats.DroppedAssignments);
        Assert.All(Enumerable.Range(0, c.Experts), e => Assert.True(stats.Kept[e] <= Math.Min(stats.Demand[e], result.Capacity * result.Groups)));
        for (int position = 0; position < c.SequenceLength; position++)
        {
            int dropped = Enumerable.Range(0, sequences).Sum(s => Enumerable.Range(0, c.TopK).Count(r => !result.IsKept(s * c.SequenceLength + position, r)));
            Assert.Equal((double)dropped / (c.TopK * sequences), stats.DropRatioByPosition[position], 1e-12);
        }
        int lostAll = Enumerable.Range(0, c.Tokens).Count(t => Enumerable.Range(0, c.TopK).All(r => !result.IsKept(t, r)));
        Assert.Equal((double)lostAll / c.Tokens, stats.FractionTokensLosingAllChoices, 1e-12);
        Assert.Equal((3, 7L, result.Capacity), (stats.Layer, stats.Step, stats.Capacity));
    }
}
