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
    private const int Rope = 2;             // q, then k
    private const int Attention = 1;        // CPU: GEMM attention's causal softmax; CUDA: the fused kernel
    private const int Activation = 1;       // per FFN call
    private const int SoftmaxTopK = 1;
    private const int Assign = 6;           // visit order, count, scan, assign slots, dispatch offsets, dispatch list
    private const int Dispatch = 1;
    private const int Combine = 1;
    private const int ResidualAdd = 1;      // x += combined
    private const int RouterLosses = 2;     // expert load, loss gradient (only when the forward collects losses)

    private const int AttentionBlock = Norm + Rope + Attention;
    private const int DenseLayer = AttentionBlock + Norm + Activation;
    // Inference runs each expert's FFN through one scratch: one activation per expert (all 8 get rows here).
    private const int ExpertActivations = 8 * Activation;
    private const int MoeSublayer = Norm + SoftmaxTopK + Assign + Dispatch + ExpertActivations + Combine + ResidualAdd;
    private const int ExtraFfn = Norm + Activation;
    private const int OpenMoeLayer = AttentionBlock + MoeSublayer + ExtraFfn;

    private ComputeDevice Device => fixture.Device;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OpenMoE_Tiny_forward_launches_what_its_layers_imply(bool routerLosses)
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var config = spec.Config;
        var weights = ReferenceWeights.Random(config, seed: 11);
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        var random = new Random(3);
        int[] tokens = Enumerable.Range(0, 4 * 32).Select(_ => random.Next(config.Vocab)).ToArray();
        var options = new ForwardOptions { CollectTrace = routerLosses };

        model.Forward(tokens, 4, options); // the first forward also makes the routing buffers
        var launches = model.Forward(tokens, 4, options).Launches;

        Assert.Equal(1, launches.Embedding);
        Assert.Equal(Norm, launches.Head);
        var expected = Enumerable.Range(0, config.Layers)
            .Select(l => (long)(config.IsMoeLayer(l) ? OpenMoeLayer + (routerLosses ? RouterLosses : 0) : DenseLayer));
        Assert.Equal(expected, launches.Layers);
        Assert.Equal(1 + launches.Layers.Sum() + Norm, launches.Total);
    }
}

public sealed class CpuForwardLaunchTests(CpuDeviceFixture fixture) : ForwardLaunchTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
public sealed class CudaForwardLaunchTests(CudaDeviceFixture fixture) : ForwardLaunchTests<CudaDeviceFixture>(fixture);
#endif
