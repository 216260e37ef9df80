using System.CommandLine;
using System.Text.Json;
using OpenMoE.Cli;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Specs;

/// <summary><c>openmoe specs</c>, invoked in-process.</summary>
public class SpecsCommandTests
{
    private static (int ExitCode, string Output) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var exitCode = Program.CreateRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return (exitCode, output.ToString());
    }

    [Fact]
    public void Json_lists_every_spec_with_exact_counts_and_moe_layers()
    {
        var (exitCode, output) = Invoke("specs", "--json");

        Assert.Equal(0, exitCode);
        using var json = JsonDocument.Parse(output);
        var specs = json.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal(ModelSpecs.All.Select(s => s.Name).Order(StringComparer.Ordinal), specs.Keys.Order(StringComparer.Ordinal));
        var mixtral = specs["Mixtral-8x7B"];
        Assert.Equal(46_702_792_704, mixtral.GetProperty("totalParams").GetInt64());
        Assert.Equal(32, mixtral.GetProperty("layers").GetInt32());
        var baseSpec = specs["OpenMoE-Base/16E"];
        Assert.Equal(141_616_128, baseSpec.GetProperty("activatedParams").GetInt64());
        Assert.Equal(
            OpenMoE.Model.Specs.Shipped.OpenMoEBase16E.ActivatedParamsWithEmbeddings,
            baseSpec.GetProperty("activatedParamsWithEmbeddings").GetInt64());
        Assert.Equal([3, 7, 11], baseSpec.GetProperty("moeLayers").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(650_000_000, baseSpec.GetProperty("paper").GetProperty("totalParams").GetInt64());
        Assert.Equal(JsonValueKind.Null, specs["OpenMoE-Tiny"].GetProperty("paper").ValueKind);
    }

    [Fact]
    public void Table_has_a_row_per_spec()
    {
        var (exitCode, output) = Invoke("specs");

        Assert.Equal(0, exitCode);
        Assert.All(ModelSpecs.All, s => Assert.Contains(s.Name, output, StringComparison.Ordinal));
        Assert.Contains("46.70B", output, StringComparison.Ordinal);
        Assert.Contains("141.62M", output, StringComparison.Ordinal);
        // A dense spec says so instead of listing one expert and top-1.
        var dense = output.Split('\n').Single(l => l.Contains("OpenMoE-Tiny-Dense", StringComparison.Ordinal));
        Assert.Matches(@"OpenMoE-Tiny-Dense\s*│\s*4\s*│\s*none\s*│\s*dense\s*│\s*-\s*│", dense);
    }
}
