using System.Globalization;
using System.Text;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// docs/routing-rules.md's worked example: the README's 8 tokens and 4 experts, with the logit of each
/// token's first choice rising with the token (2 + t/4), routed by every rule. The engine makes the
/// tables; the test fails when the document shows anything else.
/// </summary>
public class RoutingRulesDocTests
{
    private static readonly int[] First = [0, 0, 0, 1, 0, 2, 1, 0];
    private static readonly int[] Second = [1, 2, 1, 0, 3, 1, 2, 1];

    private static readonly RoutingOptions Plain = new()
    {
        Experts = 4, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 1.25, MinCapacity = 0,
    };

    public static float[] Logits()
    {
        var logits = new float[8 * 4];
        for (int t = 0; t < 8; t++)
        {
            logits[t * 4 + First[t]] = 2f + t / 4f;
            logits[t * 4 + Second[t]] = 1f;
        }
        return logits;
    }

    /// <summary>The rules of the example, with the bias the aux-free row uses (+0.25 on the idle e3).</summary>
    public static IEnumerable<(string Name, RoutingOptions Options, float[] Bias)> Rules()
    {
        float[] none = new float[4];
        yield return ("token choice, by position (OpenMoE)", Plain, none);
        yield return ("token choice, by probability", Plain with { DropPolicy = DropPolicy.ByProbability }, none);
        yield return ("sigmoid, renormalised, bias +0.25 on e3 (aux-free)",
            Plain with { Scoring = RouterScoring.Sigmoid, Gating = Gating.RenormalizedTopK, ExpertBias = true }, [0f, 0f, 0f, 0.25f]);
    }

    public static string TokenChoiceTable(RoutingResult result)
    {
        var text = new StringBuilder("| token | 1st choice | 1st slot | 2nd choice | 2nd slot |\n|---|---|---|---|---|\n");
        for (int t = 0; t < result.Tokens; t++)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {t} ");
            for (int r = 0; r < 2; r++)
            {
                string slot = result.IsKept(t, r) ? result.SlotOf(t, r).ToString(CultureInfo.InvariantCulture) : "dropped";
                text.Append(CultureInfo.InvariantCulture, $"| e{result.ExpertOf(t, r)} (w={result.Weight[t * 2 + r]:F3}) | {slot} ");
            }
            text.Append("|\n");
        }
        return text.ToString();
    }

    public static string ExpertChoiceTable(RoutingResult result)
    {
        var text = new StringBuilder("| expert | tokens taken (w) |\n|---|---|\n");
        for (int e = 0; e < result.Experts; e++)
        {
            var taken = Enumerable.Range(0, result.Tokens).Where(t => result.IsKept(t, e))
                .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t} ({result.Weight[t * result.TopK + e]:F3})"));
            text.Append(CultureInfo.InvariantCulture, $"| e{e} | {string.Join(", ", taken)} |\n");
        }
        return text.ToString();
    }

    /// <summary>Every table of the document, in its order.</summary>
    public static IEnumerable<string> Tables()
    {
        var logits = Logits();
        foreach (var (_, options, bias) in Rules())
            yield return TokenChoiceTable(ReferenceRouter.Route(logits, 8, options, bias));
        var expertChoice = Plain with { Rule = RoutingRule.ExpertChoice, TopK = 4 };
        yield return ExpertChoiceTable(ReferenceRouter.Route(logits, 8, expertChoice));
    }

    [Fact]
    public void The_documented_tables_are_what_the_engine_does()
    {
        var doc = File.ReadAllText(RepositoryFiles.PathOf("docs/routing-rules.md")).ReplaceLineEndings("\n");
        foreach (string table in Tables())
            Assert.True(doc.Contains(table, StringComparison.Ordinal), $"docs/routing-rules.md must contain:\n{table}");
    }
}
