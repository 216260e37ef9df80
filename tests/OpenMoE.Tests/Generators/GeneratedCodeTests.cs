using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Generators;

/// <summary>Generated code compiles warning-free under nullable and runs, giving the hand-derived numbers.</summary>
public class GeneratedCodeTests
{
    [Fact]
    public void Generated_code_compiles_without_warnings_and_runs()
    {
        var (output, result) = GeneratorHarness.Run(GeneratorHarness.Spec());
        Assert.Empty(result.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));

        using var image = new MemoryStream();
        var emit = output.Emit(image);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        var context = new AssemblyLoadContext("generated-spec", isCollectible: true);
        try
        {
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var registry = assembly.GetType(GeneratorHarness.AssemblyName + ".Specs.ModelSpecs", throwOnError: true)!;
            var all = (ImmutableArray<ModelSpecInfo>)registry.GetProperty("All", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            var spec = Assert.Single(all);

            // V 512, D 64, H 4, hd 16, L 4, F 128, MoE layers 1 and 3, E 8, K 2, one extra FFN of width F.
            const long d = 64, v = 512, f = 128, e = 8;
            const long attention = 4 * d * d, norms = 2 * d, ffn = 4 * f * d, router = e * d;
            const long dense = attention + norms + ffn;
            const long moeTotal = attention + norms + router + e * ffn + d + ffn;
            const long moeActive = attention + norms + router + 2 * ffn + d + ffn;
            Assert.Equal(2 * v * d + d + 2 * dense + 2 * moeTotal, spec.TotalParams);
            Assert.Equal(d + 2 * dense + 2 * moeActive, spec.ActivatedParams);
            Assert.Equal([1, 3], spec.Config.MoeLayers);
            Assert.Equal(spec.TotalParams, spec.Parameters.Sum(p => p.Elements));
            Assert.Equal(SpecHashing.Compute(spec.Config), spec.SpecHash);
        }
        finally
        {
            context.Unload();
        }
    }
}
