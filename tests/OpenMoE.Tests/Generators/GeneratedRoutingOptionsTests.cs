using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Generators;

/// <summary>The routing options of issue 16 reach the generated config, and its hash, which the runtime computes alike.</summary>
public class GeneratedRoutingOptionsTests
{
    private static ModelSpecInfo Compile(string extra, out AssemblyLoadContext context)
    {
        var (output, result) = GeneratorHarness.Run(GeneratorHarness.Spec(extra));
        Assert.Empty(result.Diagnostics);
        using var image = new MemoryStream();
        var emit = output.Emit(image);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        context = new AssemblyLoadContext("generated-routing-spec", isCollectible: true);
        image.Position = 0;
        var registry = context.LoadFromStream(image).GetType(GeneratorHarness.AssemblyName + ".Specs.ModelSpecs", throwOnError: true)!;
        return Assert.Single((ImmutableArray<ModelSpecInfo>)registry.GetProperty("All", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!);
    }

    [Fact]
    public void Every_routing_option_reaches_the_config_and_the_hash()
    {
        var plain = Compile("", out var plainContext);
        var routed = Compile(", RouterScoring = RouterScoring.Sigmoid, Gating = Gating.RenormalizedTopK, ExpertBias = true, BiasUpdateRate = 0.01, " +
            "ExpertGroups = 4, TopGroups = 2, DropPolicy = DropPolicy.ByProbability", out var routedContext);
        var choosing = Compile(", RoutingRule = RoutingRule.ExpertChoice", out var choosingContext);
        try
        {
            var c = routed.Config;
            Assert.Equal((RouterScoring.Sigmoid, true, 0.01, 4, 2, DropPolicy.ByProbability), (c.RouterScoring, c.ExpertBias, c.BiasUpdateRate, c.ExpertGroups, c.TopGroups, c.DropPolicy));
            Assert.Equal(RoutingRule.ExpertChoice, choosing.Config.RoutingRule);
            foreach (var spec in new[] { plain, routed, choosing })
                Assert.Equal(SpecHashing.Compute(spec.Config), spec.SpecHash);
            Assert.Equal(3, new[] { plain.SpecHash, routed.SpecHash, choosing.SpecHash }.Distinct().Count());
            // Specs that leave the routing options at their defaults keep the hash they had before them.
            Assert.DoesNotContain("RoutingRule", SpecHashing.CanonicalListing(plain.Config), StringComparison.Ordinal);
        }
        finally
        {
            plainContext.Unload();
            routedContext.Unload();
            choosingContext.Unload();
        }
    }
}
