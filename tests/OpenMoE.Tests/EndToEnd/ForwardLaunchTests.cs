using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.EndToEnd;

/// <summary>
/// Kernel launches of one OpenMoE-Tiny forward, per decoder layer, against the count the network's
/// structure implies (issue 12: the launch counter and the figures in the README). The expected
/// figures are written out op by op below, so a launch added to or removed from a layer fails here
/// and the README's table has to follow.
/// </summary>
public abstract class ForwardLaunchTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    // Launches of the op layer a full-sequence forward makes, op by op. GEMMs (projections, router
    // logits, experts, LM head) are the GEMM provider's and are not counted.
    private const int Norm = 1;
    private const int Attention = 1;        // CPU: GEMM attention's causal softmax; CUDA: the fused kernel
    private const int Activation = 1;       // per FFN call; inference's expert scratch holds every expert's rows at this size: one for all
    private const int SoftmaxTopK = 1;
    private const int Assign = 3;           // count, scan with the dispatch offsets, slots with their dispatch rows (the position order is kept from the first forward)
    private const int Dispatch = 1;
    private const int RouterLosses = 2;     // expert load, loss gradient (only when the forward collects losses)

    // The ops the fused kernels replace: RoPE of q and of k; combine, residual add, extra norm.
    private static int Rope(bool fused) => fused ? 1 : 2;
    private static int CombineAddNorm(bool fused) => fused ? 1 : 3;

    private static int DenseLayer(bool fused) => Norm + Rope(fused) + Attention + Norm + Activation;

    private static int OpenMoeLayer(bool fused) =>
        Norm + Rope(fused) + Attention
        + Norm + SoftmaxTopK + Assign + Dispatch + Activation + CombineAddNorm(fused)
        + Activation; // the extra FFN (its norm is in CombineAddNorm)

    private ComputeDevice Device => fixture.Device;

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void OpenMoE_Tiny_forward_launches_what_its_layers_imply(bool fused, bool routerLosses)
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var config = spec.Config;
        var weights = ReferenceWeights.Random(config, seed: 11);
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        var random = new Random(3);
        int[] tokens = Enumerable.Range(0, 4 * 32).Select(_ => random.Next(config.Vocab)).ToArray();
        var options = new ForwardOptions { CollectTrace = routerLosses, FusedKernels = fused };

        model.Forward(tokens, 4, options); // the first forward also makes the routing buffers and writes the position order
        var launches = model.Forward(tokens, 4, options).Launches;

        Assert.Equal(1, launches.Embedding);
        Assert.Equal(Norm, launches.Head);
        var expected = Enumerable.Range(0, config.Layers)
            .Select(l => (long)(config.IsMoeLayer(l) ? OpenMoeLayer(fused) + (routerLosses ? RouterLosses : 0) : DenseLayer(fused)));
        Assert.Equal(expected, launches.Layers);
        Assert.Equal(1 + launches.Layers.Sum() + Norm, launches.Total);
    }

    [Fact]
    public void A_small_expert_scratch_splits_the_activation_launches()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var weights = ReferenceWeights.Random(spec.Config, seed: 11);
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        int[] tokens = Enumerable.Range(0, 4 * 32).Select(i => i * 7 % spec.Config.Vocab).ToArray();
        // One byte: the scratch holds the largest expert's rows only, so no two experts with rows share it.
        var split = new ForwardOptions { ExpertScratchBytes = 1 };
        model.Forward(tokens, 4, split);
        var steady = model.Forward(tokens, 4, split);

        int moe = Enumerable.Range(0, spec.Config.Layers).First(spec.Config.IsMoeLayer);
        int expertsWithRows = steady.MoeLayers[0].Routing.KeptCount.Count(count => count > 0);
        Assert.True(expertsWithRows > 1, "the test needs several experts with rows");
        long oneActivation = OpenMoeLayer(fused: true) + RouterLosses;
        Assert.Equal(oneActivation - 1 + expertsWithRows, steady.Launches.Layers[moe]);
    }
}

public sealed class CpuForwardLaunchTests(CpuDeviceFixture fixture) : ForwardLaunchTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
public sealed class CudaForwardLaunchTests(CudaDeviceFixture fixture) : ForwardLaunchTests<CudaDeviceFixture>(fixture);
#endif
