using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OpenMoE.Generators;

namespace OpenMoE.Tests.Generators;

/// <summary>The pipeline caches: unchanged or unrelated edits must not re-run the spec steps.</summary>
public class IncrementalTests
{
    private static readonly string[] TrackedSteps = [ModelSpecGenerator.ParseStep, ModelSpecGenerator.RegistryStep];

    [Fact]
    public void Second_run_on_the_same_compilation_is_fully_cached()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Spec());
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);

        var second = driver.RunGenerators(compilation).GetRunResult().Results.Single();

        AssertAllCachedOrUnchanged(second);
    }

    [Fact]
    public void Editing_an_unrelated_file_does_not_regenerate()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Spec(), "namespace Demo; public static class Helper { public static int One => 1; }");
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);
        var first = driver.GetRunResult().Results.Single();
        var unrelated = compilation.SyntaxTrees.Single(t => t.FilePath == "Spec1.cs");
        var edited = compilation.ReplaceSyntaxTree(unrelated, CSharpSyntaxTree.ParseText(
            "namespace Demo; public static class Helper { public static int Two => 2; }", GeneratorHarness.ParseOptions, path: "Spec1.cs"));

        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        AssertAllCachedOrUnchanged(second);
        Assert.Equal(
            first.GeneratedSources.Select(s => s.SourceText.ToString()),
            second.GeneratedSources.Select(s => s.SourceText.ToString()));
    }

    [Fact]
    public void Editing_the_spec_reruns_the_parse_step()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Spec());
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(
            GeneratorHarness.Spec(", TopK = 1"), GeneratorHarness.ParseOptions, path: "Spec0.cs"));

        var second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        var reasons = second.TrackedSteps[ModelSpecGenerator.ParseStep].SelectMany(s => s.Outputs).Select(o => o.Reason);
        Assert.Contains(IncrementalStepRunReason.Modified, reasons);
        Assert.Contains("TopK = 1,", second.GeneratedSources.Single(s => s.HintName == "Demo.TestSpec.g.cs").SourceText.ToString());
    }

    private static void AssertAllCachedOrUnchanged(GeneratorRunResult run)
    {
        foreach (var step in TrackedSteps)
        {
            Assert.True(run.TrackedSteps.ContainsKey(step), $"step '{step}' was not tracked");
            Assert.All(run.TrackedSteps[step].SelectMany(s => s.Outputs), output =>
                Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"step '{step}' output was {output.Reason}"));
        }
    }
}
