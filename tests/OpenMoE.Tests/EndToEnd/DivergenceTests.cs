using ILGPU.Runtime;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.EndToEnd;

/// <summary>
/// Every named intermediate of one device forward against the double-precision reference model,
/// name by name: on a correct network nothing diverges; with one layer deliberately perturbed the
/// finder names that layer's first affected tensor.
/// </summary>
public abstract class DivergenceTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    // The whole forward's declared bound (DeviceForwardTests), applied to every intermediate.
    private const double Abs = 2e-3, Rel = 2e-3;

    private ComputeDevice Device => fixture.Device;

    [Theory]
    [InlineData("OpenMoE-Tiny")]
    [InlineData("Mixtral-Tiny")]
    [InlineData("DeepSeekMoE-Tiny")]
    public void No_intermediate_diverges_from_the_reference(string specName)
    {
        var (device, reference) = Run(specName, perturb: null);
        Assert.Contains(device, t => t.Name == "L1.moe.router_logits");
        Assert.Contains(device, t => t.Name == "final.logits");
        var divergence = DivergenceFinder.First(device, reference, Abs, Rel);
        Assert.True(divergence is null, divergence?.ToString());
    }

    [Fact]
    public void A_perturbed_layer_is_named_by_its_first_diverging_tensor()
    {
        // Layer 2's FFN norm weight scaled on the device only: everything before L2.ffn.normed agrees.
        var (device, reference) = Run("OpenMoE-Tiny", perturb: (2, ParameterRole.FfnNorm));
        var divergence = DivergenceFinder.First(device, reference, Abs, Rel);
        Assert.NotNull(divergence);
        Assert.Equal("L2.ffn.normed", divergence.Tensor);
    }

    private (IReadOnlyList<(string Name, float[] Values)> Device, Dictionary<string, double[]> Reference) Run(
        string specName, (int Layer, ParameterRole Role)? perturb)
    {
        var spec = ModelSpecs.Find(specName);
        var weights = ReferenceWeights.Random(spec.Config, seed: 17);
        var random = new Random(5);
        int[][] tokens = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 24).Select(_ => random.Next(spec.Config.Vocab)).ToArray()).ToArray();
        const double capacityFactor = 2.0;
        var reference = new Dictionary<string, double[]>(StringComparer.Ordinal);
        ReferenceModel.Forward(spec.Config, weights, tokens, capacityFactor, intermediates: reference);

        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        if (perturb is var (layer, role))
        {
            var tensor = model.Weights.Get(layer, role);
            tensor.CopyFromCPU(tensor.AsDense().GetAsArray1D().Select(w => w * 1.5f).ToArray());
        }
        model.Forward(tokens.SelectMany(row => row).ToArray(), tokens.Length,
            new ForwardOptions { CapacityFactor = capacityFactor, KeepIntermediates = true });
        return (model.Intermediates(), reference);
    }
}

/// <summary>On ILGPU's CPU accelerator (always).</summary>
public sealed class CpuDivergenceTests(CpuDeviceFixture fixture) : DivergenceTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
/// <summary>On the first CUDA GPU (OPENMOE_CUDA_TESTS=1 builds).</summary>
public sealed class CudaDivergenceTests(CudaDeviceFixture fixture) : DivergenceTests<CudaDeviceFixture>(fixture);
#endif
