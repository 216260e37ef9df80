using System.Globalization;
using System.Text;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The worked example in docs/routing.md (8 tokens, 4 experts, top-2, capacity 2) is produced here by the
/// engine; the test fails if that table differs from what the engine does.
/// </summary>
public class RoutingWorkedExampleTests
{
    // Token t prefers First[t] (logit 2), then Second[t] (logit 1), the rest 0.
    private static readonly int[] First = [0, 0, 0, 1, 0, 2, 1, 0];
    private static readonly int[] Second = [1, 2, 1, 0, 3, 1, 2, 1];

    public static readonly RoutingOptions Options = new()
    {
        Experts = 4, TopK = 2, CapacityRule = CapacityRule.T5x, CapacityFactor = 1.25, MinCapacity = 0,
    };

    public static RoutingResult Route()
    {
        var logits = new float[8 * 4];
        for (int t = 0; t < 8; t++)
        {
            logits[t * 4 + First[t]] = 2f;
            logits[t * 4 + Second[t]] = 1f;
        }
        return ReferenceRouter.Route(logits, 8, Options);
    }

    public static string Table(RoutingResult result)
    {
        var text = new StringBuilder();
        text.Append("| token | 1st choice | 1st slot | 2nd choice | 2nd slot |\n");
        text.Append("|---|---|---|---|---|\n");
        for (int t = 0; t < result.Tokens; t++)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {t} ");
            for (int r = 0; r < 2; r++)
            {
                string slot = result.IsKept(t, r) ? result.SlotOf(t, r).ToString(CultureInfo.InvariantCulture) : "dropped";
                text.Append(CultureInfo.InvariantCulture, $"| e{result.ExpertOf(t, r)} (p={result.Weight[t * 2 + r]:F3}) | {slot} ");
            }
            text.Append("|\n");
        }
        return text.ToString();
    }

    [Fact]
    public void The_worked_example_drops_what_the_readme_says()
    {
        var result = Route();
        Assert.Equal(2, result.Capacity);  // round(1.25 * 8 / 4) = round(2.5) = 2, half to even
        Assert.Equal(9, result.DroppedAssignments);
        Assert.Equal([6, 6, 3, 1], Enumerable.Range(0, 4).Select(result.TotalDemand));
        Assert.Equal([2, 2, 2, 1], Enumerable.Range(0, 4).Select(result.TotalKept));
        var lostBoth = Enumerable.Range(0, 8).Where(t => !result.IsKept(t, 0) && !result.IsKept(t, 1));
        Assert.Equal([2, 7], lostBoth);
        var readme = ReadmeText();
        Assert.Contains(Table(result), readme);
    }

    private static string ReadmeText()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OpenMoE.Ilgpu.sln")))
            dir = dir.Parent;
        Assert.NotNull(dir);
        return File.ReadAllText(Path.Combine(dir.FullName, "docs", "routing.md")).ReplaceLineEndings("\n");
    }
}
