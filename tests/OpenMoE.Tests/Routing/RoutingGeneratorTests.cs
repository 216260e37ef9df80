using FsCheck.Fluent;

namespace OpenMoE.Tests.Routing;

/// <summary>The laws are only as good as the cases they see: the generator must reach every edge.</summary>
public class RoutingGeneratorTests
{
    [Fact]
    public void Generator_reaches_every_edge_the_laws_need()
    {
        var cases = RoutingArbitraries.CaseGen.Sample(2000);
        int Capacity(RoutingCase c) => c.Options.CapacityFor(c.Options.TokensPerGroup(c.Tokens));
        bool AllPreferOne(RoutingCase c) => c.Experts > 1 && c.Tokens > 1 &&
            c.Route().Expert.Where((_, a) => a % c.TopK == 0).Distinct().Count() == 1;
        bool HasTie(RoutingCase c) => Enumerable.Range(0, c.Tokens)
            .Any(t => c.Logits.Skip(t * c.Experts).Take(c.Experts).Distinct().Count() < c.Experts);
        var edges = new (string Name, Func<RoutingCase, bool> Reached)[]
        {
            ("E = 1", c => c.Experts == 1),
            ("K = E > 1", c => c.TopK == c.Experts && c.Experts > 1),
            ("capacity 0", c => Capacity(c) == 0),
            ("capacity 1", c => Capacity(c) == 1),
            ("all tokens prefer one expert", AllPreferOne),
            ("exact ties", HasTie),
            ("N not divisible by E", c => c.Tokens % c.Experts != 0),
            ("a single token", c => c.Tokens == 1),
            ("drops", c => c.Route().DroppedAssignments > 0),
            ("several groups", c => c.Route().Groups > 1),
            ("batch-prioritised", c => c.Options.BatchPrioritized),
            ("several sequences", c => c.Tokens / c.SequenceLength > 1),
        };
        foreach (var (name, reached) in edges)
            Assert.True(cases.Any(reached), $"the generator never produced: {name}");
    }
}
