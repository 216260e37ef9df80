using OpenMoE.Model.Specs;
using Xunit.Abstractions;

namespace OpenMoE.Tests.Reference;

/// <summary>Finite-difference checks of <see cref="ReferenceBackward"/> on every parameter tensor (issue 6 item 1).</summary>
public class ReferenceGradientTests(ITestOutputHelper output)
{
    // Router-loss weights far above OpenMoE's 0.01 / 1e-4 so their gradients are not lost in the CE's.
    private const double AuxWeight = 0.5, ZWeight = 0.1;
    private const double Step = 1e-5;

    public static TheoryData<string> Configs => ["OpenMoE", "OpenMoE-Cai", "Mixtral-tied", "DeepSeekMoE"];

    /// <summary>The config and capacity factor of each case; N = 16 tokens in every case.</summary>
    private static (ModelConfig Config, double CapacityFactor) Case(string name) => name switch
    {
        // Min capacity 1: capacity round(1.25 * 16 / 8) = 2 per expert, so assignments are dropped.
        "OpenMoE" => (ReferenceConfigs.TinyOpenMoE() with { MinCapacity = 1 }, 1.25),
        // floor(2 * 0.5 * 16 / 8) = 2, already even: drops again, through the other rule.
        "OpenMoE-Cai" => (ReferenceConfigs.TinyOpenMoE() with { CapacityRule = CapacityRule.Cai, MinCapacity = 1, Layers = 2 }, 0.5),
        "Mixtral-tied" => (ReferenceConfigs.TinyMixtral() with { TiedEmbeddings = true }, 1.0),
        "DeepSeekMoE" => (ReferenceConfigs.TinyDeepSeekMoE(), 1.0),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void Backward_matches_central_differences_on_every_parameter_tensor(string name)
    {
        var (config, capacityFactor) = Case(name);
        var weights = ReferenceWeights.Random(config, seed: 21);
        var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 8, seed: 22);
        // Loss on a subset of targets, as in UL2 packing: sequence 0 only from position 4 on.
        bool[][] targetMask = [Enumerable.Range(0, 8).Select(t => t >= 4).ToArray(), Enumerable.Repeat(true, 8).ToArray()];
        var analytic = ReferenceBackward.Compute(config, weights, tokens, capacityFactor, targetMask, AuxWeight, ZWeight);
        Assert.Equal(4 + 7, analytic.Forward.TargetCount);
        Assert.Equal(analytic.Forward.TotalLoss(AuxWeight, ZWeight), analytic.Loss);
        if (config.CapacityRule != CapacityRule.Dropless)
            Assert.Contains(analytic.Forward.Routing, layer => layer.DropRatio > 0);

        var baselineChoices = Choices(analytic.Forward);
        int forwards = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double Loss(ReferenceWeights perturbed)
        {
            forwards++;
            var result = ReferenceModel.Forward(config, perturbed, tokens, capacityFactor, targetMask);
            Assert.Equal(baselineChoices, Choices(result)); // a finite difference across a routing flip would be meaningless
            return result.TotalLoss(AuxWeight, ZWeight);
        }

        var usedExperts = UsedExpertTensorPrefixes(analytic.Forward);
        var random = new Random(23);
        var perturbed = weights.Clone();
        double worst = 0;
        foreach (var (tensorName, gradient) in analytic.Gradients.Tensors)
        {
            var data = gradient.Data;
            int largest = Enumerable.Range(0, data.Length).MaxBy(i => Math.Abs(data[i]));
            // Only an expert that received no kept token may have an all-zero gradient.
            bool unusedExpert = IsPerExpertTensor(tensorName) && !usedExperts.Any(tensorName.StartsWith);
            Assert.True(unusedExpert == (data[largest] == 0), $"{tensorName}: largest gradient {data[largest]}, unused expert {unusedExpert}");
            foreach (int index in new[] { largest, random.Next(data.Length) })
            {
                double original = perturbed[tensorName].Data[index];
                perturbed[tensorName].Data[index] = original + Step;
                double plus = Loss(perturbed);
                perturbed[tensorName].Data[index] = original - Step;
                double minus = Loss(perturbed);
                perturbed[tensorName].Data[index] = original;
                double numeric = (plus - minus) / (2 * Step);
                double error = Math.Abs(numeric - data[index]);
                worst = Math.Max(worst, error);
                Assert.True(error <= 1e-8 + 1e-5 * Math.Abs(numeric),
                    $"{tensorName}[{index}]: analytic {data[index]:R}, numeric {numeric:R}");
            }
        }
        output.WriteLine($"{name}: {analytic.Gradients.Tensors.Count} tensors, worst abs error {worst:E2}, {forwards} forwards in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static bool IsPerExpertTensor(string name) => System.Text.RegularExpressions.Regex.IsMatch(name, @"\.experts\.\d+\.");

    /// <summary>"model.layers.L.{mlp|block_sparse_moe}.experts.J." for every expert J with at least one kept assignment in MoE layer L.</summary>
    private static string[] UsedExpertTensorPrefixes(ReferenceForwardResult result) =>
        result.Routing.SelectMany(layer => layer.Tokens
                .SelectMany(token => token.Experts.Where((_, rank) => token.Slots[rank] >= 0))
                .Distinct()
                .SelectMany(e => new[] { $"model.layers.{layer.Layer}.mlp.experts.{e}.", $"model.layers.{layer.Layer}.block_sparse_moe.experts.{e}." }))
            .ToArray();

    private static int[][] Choices(ReferenceForwardResult result) =>
        result.Routing.SelectMany(layer => layer.Tokens.Select(token => token.Experts)).ToArray();
}
