using FsCheck;
using FsCheck.Fluent;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// FsCheck generators that reach the edges of routing: E = 1, K = E, capacity 0 and 1, every token
/// preferring one expert, exact ties (all-zero rows, coarse logits), N not divisible by E, a single
/// token; every routing rule (plain token choice, by-probability dropping, expert choice, sigmoid scores
/// with an expert bias, group-limited selection); and a shrinker towards fewer tokens, fewer experts and
/// plainer options.
/// </summary>
public static class RoutingArbitraries
{
    public static Arbitrary<RoutingCase> RoutingCase() => Arb.From(CaseGen, Shrink);

    public static Gen<RoutingCase> CaseGen =>
        from experts in Gen.Frequency((1, Gen.Constant(1)), (6, Gen.Choose(2, 8)), (1, Gen.Choose(9, 16)))
        from topK in Gen.Frequency((2, Gen.Constant(1)), (2, Gen.Constant(Math.Min(2, experts))), (1, Gen.Constant(experts)), (1, Gen.Choose(1, experts)))
        from tokens in Gen.Frequency((1, Gen.Constant(1)), (6, Gen.Choose(2, 24)), (2, Gen.Choose(25, 64)))
        from sequenceLength in Gen.Elements(Divisors(tokens))
        from plain in OptionsGen(experts, topK, tokens)
        from options in RuleGen(plain)
        from logits in LogitsGen(tokens, experts)
        from bias in BiasGen(experts)
        select new RoutingCase(options, tokens, sequenceLength, logits, options.ExpertBias ? bias : null);

    /// <summary>One of the routing rules on top of plain options: every law runs for every rule.</summary>
    public static Gen<RoutingOptions> RuleGen(RoutingOptions o) =>
        from kind in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)), (1, Gen.Constant(4)))
        from bias in Gen.Elements(false, true)
        from groups in Gen.Elements(Divisors(o.Experts).Where(d => d <= 32).ToArray())
        from chosen in Gen.Choose(1, groups)
        select kind switch
        {
            1 => o with { DropPolicy = DropPolicy.ByProbability, ExpertBias = bias },
            2 => o with { Rule = RoutingRule.ExpertChoice, TopK = o.Experts, CapacityRule = CapacityRule.T5x, Gating = Gating.RawSoftmax, BatchPrioritized = false },
            3 => o with { Scoring = RouterScoring.Sigmoid, ExpertBias = true },
            4 => o with
            {
                ExpertGroups = groups, ExpertBias = bias,
                // Enough chosen groups to hold K experts.
                TopGroups = Math.Max(chosen, (o.TopK + o.Experts / groups - 1) / (o.Experts / groups)),
            },
            _ => o,
        };

    /// <summary>Multiples of 1/8 in [-1, 1]: bias ties and clear margins.</summary>
    public static Gen<float[]> BiasGen(int experts) => Gen.Choose(-8, 8).Select(v => v / 8f).ArrayOf(experts);

    public static Gen<RoutingOptions> OptionsGen(int experts, int topK, int tokens) =>
        from rule in Gen.Elements(CapacityRule.T5x, CapacityRule.Cai, CapacityRule.Dropless)
        from factor in Gen.Frequency((4, Gen.Elements(0.0, 0.25, 0.5, 1.0, 1.25, 2.0, 4.0)), (1, Gen.Choose(0, 400).Select(c => c / 100.0)))
        from minCapacity in Gen.Elements(0, 0, 1, 2, 4)
        from capacityOverride in Gen.Frequency((5, Gen.Constant<int?>(null)), (1, Gen.Choose(0, 3).Select(c => (int?)c)))
        from gating in Gen.Elements(Gating.RawSoftmax, Gating.RenormalizedTopK)
        from prioritized in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        from groupSize in Gen.Frequency((3, Gen.Constant<int?>(null)), (1, Gen.Elements(Divisors(tokens)).Select(d => (int?)d)))
        select new RoutingOptions
        {
            Experts = experts, TopK = topK, CapacityRule = rule, CapacityFactor = factor, MinCapacity = minCapacity,
            CapacityOverride = capacityOverride, Gating = gating, BatchPrioritized = prioritized, GroupSize = groupSize,
        };

    /// <summary>Multiples of 1/16: exact ties happen, near-ties cannot.</summary>
    public static Gen<float[]> LogitsGen(int tokens, int experts)
    {
        var coarse = Gen.Choose(-3, 3).Select(v => (float)v).ArrayOf(tokens * experts);
        var fine = Gen.Choose(-64, 64).Select(v => v / 16f).ArrayOf(tokens * experts);
        var zeros = Gen.Constant(new float[tokens * experts]);
        var oneFavourite =
            from favourite in Gen.Choose(0, experts - 1)
            from rest in fine
            select rest.Select((v, i) => i % experts == favourite ? v + 8f : v).ToArray();
        return Gen.Frequency((3, fine), (2, coarse), (1, zeros), (2, oneFavourite));
    }

    public static IEnumerable<RoutingCase> Shrink(RoutingCase c)
    {
        var o = c.Options;
        if (c.Tokens > 1)
        {
            yield return Prefix(c, c.Tokens / 2);
            yield return Prefix(c, c.Tokens - 1);
        }
        if (o.Rule == RoutingRule.ExpertChoice)
            yield return c with { Options = o with { Rule = RoutingRule.TokenChoice } };
        if (o.ExpertBias)
            yield return c with { Options = o with { ExpertBias = false }, Bias = null };
        if (o.ExpertGroups > 1)
            yield return c with { Options = o with { ExpertGroups = 1, TopGroups = 1 } };
        if (o.Scoring != RouterScoring.Softmax)
            yield return c with { Options = o with { Scoring = RouterScoring.Softmax } };
        if (o.DropPolicy != DropPolicy.ByPosition)
            yield return c with { Options = o with { DropPolicy = DropPolicy.ByPosition } };
        if (o.Experts > o.TopK && o.ExpertGroups == 1)
            yield return DropLastExpert(c);
        if (o.TopK > 1 && o.Rule == RoutingRule.TokenChoice)
            yield return c with { Options = o with { TopK = o.TopK - 1 } };
        if (o.BatchPrioritized)
            yield return c with { Options = o with { BatchPrioritized = false } };
        if (o.GroupSize is not null)
            yield return c with { Options = o with { GroupSize = null } };
        if (o.Gating != Gating.RawSoftmax)
            yield return c with { Options = o with { Gating = Gating.RawSoftmax } };
        if (c.Logits.Any(v => v != MathF.Round(v)))
            yield return c with { Logits = c.Logits.Select(v => MathF.Round(v)).ToArray() };
    }

    public static int[] Divisors(int n) => Enumerable.Range(1, n).Where(d => n % d == 0).ToArray();

    private static RoutingCase Prefix(RoutingCase c, int tokens) =>
        (c with { Tokens = tokens, Logits = c.Logits[..(tokens * c.Experts)] }).Normalized();

    private static RoutingCase DropLastExpert(RoutingCase c)
    {
        int e = c.Experts;
        var logits = c.Logits.Where((_, i) => i % e != e - 1).ToArray();
        return c with { Options = c.Options with { Experts = e - 1 }, Logits = logits, Bias = c.Bias?[..(e - 1)] };
    }
}
