using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.Training;

/// <summary>
/// The device backward (TrainingNetwork) against the independent double-precision
/// ReferenceBackward: the loss and the gradient of every parameter tensor, routing held fixed.
/// </summary>
public abstract class DeviceGradientTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    // fp32 device vs fp64 reference through 4 layers: per tensor, ||device - ref|| <= NormRel * ||ref|| + NormAbs.
    private const double NormRel = 5e-3, NormAbs = 1e-6;
    private const double TieMargin = 1e-5;

    private ComputeDevice Device => fixture.Device;

    [Theory]
    [InlineData("OpenMoE-Tiny", 1.25, false)]
    [InlineData("OpenMoE-Tiny", 0.5, true)]
    [InlineData("Mixtral-Tiny", 1.0, false)]
    [InlineData("DeepSeekMoE-Tiny", 1.0, true)]
    public void Device_gradients_equal_the_double_precision_reference(string specName, double capacityFactor, bool masked)
    {
        var spec = ModelSpecs.Find(specName);
        var config = spec.Config;
        var (tokens, weights) = UntiedCase(config, seed: 11);
        int batch = tokens.Length, time = tokens[0].Length;
        var mask = masked ? tokens.Select((row, b) => row.Select((_, t) => (t + b) % 3 != 0).ToArray()).ToArray() : null;
        var expected = ReferenceBackward.Compute(config, weights, tokens, capacityFactor, mask);

        using var network = new TrainingNetwork(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        var inputs = tokens.SelectMany(row => row).ToArray();
        var targets = Targets(tokens, mask);
        var losses = network.ForwardBackward(inputs, targets, batch, capacityFactor);

        Assert.Equal(expected.Loss, losses.Total, 3);
        Assert.Equal(expected.Forward.CrossEntropy, losses.CrossEntropy, 3);
        foreach (var parameter in spec.Parameters)
        {
            var reference = expected.Gradients[parameter.Name].Data;
            var device = network.Gradients.Download(parameter);
            double diff = 0, norm = 0;
            for (int i = 0; i < reference.Length; i++)
            {
                diff += (device[i] - reference[i]) * (device[i] - reference[i]);
                norm += reference[i] * reference[i];
            }
            double bound = NormRel * Math.Sqrt(norm) + NormAbs;
            Assert.True(Math.Sqrt(diff) <= bound,
                $"{specName}: gradient of {parameter.Name} differs by {Math.Sqrt(diff):G3} (|ref| {Math.Sqrt(norm):G3}, bound {bound:G3}).");
        }
    }

    [Fact]
    public void Capacity_limits_the_kept_assignments_and_drops_are_reported()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var (tokens, weights) = UntiedCase(spec.Config, seed: 11);
        using var network = new TrainingNetwork(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        // A capacity factor this small keeps min_capacity (4) slots per expert only: most assignments drop.
        var losses = network.ForwardBackward(tokens.SelectMany(r => r).ToArray(), Targets(tokens, null), tokens.Length, 0.01);
        Assert.All(losses.MoeLayers, layer =>
        {
            // N*K = 48 assignments, E * min_capacity = 32 slots: at least a third must drop.
            Assert.True(layer.DropRatio >= 1.0 / 3, $"layer {layer.Layer} dropped only {layer.DropRatio:P0}");
            Assert.All(layer.ExpertLoad, load => Assert.True(load <= 4));
            Assert.Equal((int)Math.Round(layer.DropRatio * tokens.Length * tokens[0].Length * spec.Config.TopK), layer.DroppedByPosition.Sum());
        });
    }

    /// <summary>Random weights and tokens whose routing has no near-tie (a tie could flip in fp32 and change the routing).</summary>
    private static (int[][] Tokens, ReferenceWeights Weights) UntiedCase(ModelConfig config, int seed)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var weights = ReferenceWeights.Random(config, seed + attempt);
            var random = new Random(seed + attempt);
            var tokens = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 12).Select(_ => random.Next(config.Vocab)).ToArray()).ToArray();
            var forward = ReferenceModel.Forward(config, weights, tokens, 2.0);
            if (forward.Routing.All(r => r.Tokens.All(t => t.TopKMargin >= TieMargin)))
                return (tokens, weights);
        }
        throw new InvalidOperationException("No tie-free case found in 20 seeds.");
    }

    /// <summary>targets [B*T]: position t predicts tokens[t + 1] when it counts, else -1.</summary>
    internal static int[] Targets(int[][] tokens, bool[][]? mask)
    {
        int time = tokens[0].Length;
        var targets = new int[tokens.Length * time];
        for (int b = 0; b < tokens.Length; b++)
            for (int t = 0; t < time; t++)
                targets[b * time + t] = t + 1 < time && (mask is null || mask[b][t + 1]) ? tokens[b][t + 1] : -1;
        return targets;
    }
}

/// <summary>On ILGPU's CPU accelerator (always).</summary>
public sealed class CpuDeviceGradientTests(CpuDeviceFixture fixture) : DeviceGradientTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
/// <summary>On the first CUDA GPU (OPENMOE_CUDA_TESTS=1 builds).</summary>
public sealed class CudaDeviceGradientTests(CudaDeviceFixture fixture) : DeviceGradientTests<CudaDeviceFixture>(fixture);
#endif
