using System.Reflection;
using Microsoft.CodeAnalysis;
using OpenMoE.Generators;

namespace OpenMoE.Tests.Generators;

/// <summary>One invalid spec per OMOE id; each must fail with exactly that id, pointing into the source.</summary>
public class DiagnosticTests
{
    private static readonly string Nested = """
        using OpenMoE.Model.Specs;

        namespace Demo;

        public partial class Outer
        {
            [ModelSpec("Nested", Vocab = 512, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, Ffn = 128, MoeLayerParameter = 2, Experts = 8)]
            public partial class Inner;
        }
        """;

    public static TheoryData<string, string[]> Cases => new()
    {
        { "OMOE001", [GeneratorHarness.Spec(modifiers: "public")] },
        { "OMOE002", [Nested] },
        { "OMOE002", [GeneratorHarness.Spec(modifiers: "public partial record")] },
        { "OMOE002", [GeneratorHarness.Spec(type: "TestSpec<T>")] },
        { "OMOE003", [GeneratorHarness.Spec(name: "")] },
        { "OMOE004", [GeneratorHarness.Spec(name: "Twin"), GeneratorHarness.Spec(name: "twin", type: "OtherSpec")] },
        { "OMOE005", [GeneratorHarness.Spec(", ExpertFfn = -8")] },
        { "OMOE006", [GeneratorHarness.Spec(", TopK = 9")] },
        { "OMOE007", [GeneratorHarness.Spec(", HeadDim = 15").Replace("HeadDim = 16, ", string.Empty, StringComparison.Ordinal)] },
        { "OMOE008", [GeneratorHarness.Spec(", KvHeads = 3")] },
        { "OMOE009", [GeneratorHarness.Spec().Replace("MoeLayerParameter = 2", "MoeLayerParameter = 0", StringComparison.Ordinal)] },
        { "OMOE010", [GeneratorHarness.Spec().Replace("MoeLayerParameter = 2", "MoeLayerParameter = 5", StringComparison.Ordinal)] },
        { "OMOE011", [GeneratorHarness.Spec(", TrainCapacityFactor = 0")] },
        { "OMOE012", [GeneratorHarness.Spec(", MinCapacity = -1")] },
        { "OMOE013", [GeneratorHarness.Spec(", SharedExpertKind = SharedExpertKind.None, SharedExperts = 1")] },
        { "OMOE014", [GeneratorHarness.Spec(", FfnKind = (FfnKind)7")] },
        { "OMOE015", [GeneratorHarness.Spec(", NormEps = 0")] },
        { "OMOE016", [GeneratorHarness.Spec(", FfnKind = FfnKind.SwiGlu")] },
        { "OMOE017", [GeneratorHarness.Spec(attributes: "[PaperFigures(100, 200, \"made up\")]")] },
        { "OMOE018", [GeneratorHarness.Spec(", ExpertGroups = 3")] },
        { "OMOE018", [GeneratorHarness.Spec(", ExpertGroups = 4, TopGroups = 5")] },
        { "OMOE018", [GeneratorHarness.Spec(", TopK = 3, ExpertGroups = 4, TopGroups = 1")] },
        { "OMOE019", [GeneratorHarness.Spec(", RoutingRule = RoutingRule.ExpertChoice, ExpertBias = true")] },
        { "OMOE019", [GeneratorHarness.Spec(", RoutingRule = RoutingRule.ExpertChoice, CapacityRule = CapacityRule.Dropless")] },
        { "OMOE020", [GeneratorHarness.Spec(", ExpertBias = true, BiasUpdateRate = 0")] },
        { "OMOE021", [GeneratorHarness.Spec(", MoeLayerRule = MoeLayerRule.Dense, Experts = 1, TopK = 1").Replace("MoeLayerParameter = 2, Experts = 8", "MoeLayerParameter = 0", StringComparison.Ordinal)] },
        { "OMOE021", [DenseSpec(", Experts = 8, TopK = 1")] },
        { "OMOE021", [DenseSpec(", Experts = 1, TopK = 1, MoeLayerParameter = 2")] },
    };

    // A dense spec without experts or top-k; with ", Experts = 1, TopK = 1" it is valid.
    private static string DenseSpec(string extra) =>
        GeneratorHarness.Spec(extra).Replace("MoeLayerParameter = 2, Experts = 8",
            "MoeLayerRule = MoeLayerRule.Dense, SharedExpertKind = SharedExpertKind.None", StringComparison.Ordinal);

    [Fact]
    public void Dense_spec_with_every_routing_field_pinned_compiles_without_moe_layers()
    {
        var (output, result) = GeneratorHarness.Run(DenseSpec(", Experts = 1, TopK = 1"));

        Assert.Empty(result.Diagnostics);
        Assert.DoesNotContain(output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error);
        var generated = string.Join("\n", result.GeneratedTrees.Select(t => t.ToString()));
        Assert.Contains("MoeLayers => [];", generated, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Invalid_spec_fails_with_its_own_diagnostic_id(string id, string[] sources)
    {
        var (output, result) = GeneratorHarness.Run(sources);

        var ids = result.Diagnostics.Select(d => d.Id).Distinct().ToArray();
        Assert.Equal([id], ids);
        Assert.All(result.Diagnostics, d =>
        {
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            // Generators report through file locations (they may not hold syntax trees), so check the path and line.
            var span = d.Location.GetLineSpan();
            Assert.StartsWith("Spec", span.Path, StringComparison.Ordinal);
            Assert.InRange(span.StartLinePosition.Line, 3, 9);
        });
        // Compiler errors other than the generator's would mean the generator emitted broken code for an invalid spec.
        Assert.DoesNotContain(output.GetDiagnostics(), d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_diagnostic_id_has_a_test_case()
    {
        var declared = typeof(Diagnostics)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id)
            .Order(StringComparer.Ordinal);
        var tested = Cases.Select(row => (string)row[0]).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(declared, tested);
    }

    [Fact]
    public void Valid_spec_has_no_diagnostics()
    {
        var (output, result) = GeneratorHarness.Run(GeneratorHarness.Spec());

        Assert.Empty(result.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void Message_says_what_to_change()
    {
        var (_, result) = GeneratorHarness.Run(GeneratorHarness.Spec(", TopK = 9"));

        var message = Assert.Single(result.Diagnostics).GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("TopK is 9 but there are only 8 experts; set TopK <= Experts", message);
    }
}
