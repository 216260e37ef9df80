using ILGPU;
using OpenMoE.Kernels;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Model.Specs.Shipped;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.EndToEnd;

/// <summary>
/// The fused kernels, the size-specialised kernels and the shared expert scratch change launches, not
/// results: on the CPU accelerator (which does not contract multiply-adds) each fused kernel does its
/// unfused ops' float operations in their order and a <c>&lt;TDims&gt;</c> kernel its runtime-size twin's,
/// so the whole forward, its routing and every kept intermediate are bit-identical.
/// </summary>
public class ForwardKernelChoiceTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    [Theory]
    [InlineData("OpenMoE-Tiny", false)]
    [InlineData("OpenMoE-Tiny", true)]
    [InlineData("Mixtral-Tiny", false)]
    [InlineData("DeepSeekMoE-Tiny", false)]
    public void Fused_specialised_and_generic_unfused_forwards_are_bit_identical(string specName, bool keepIntermediates)
    {
        var device = fixture.Device;
        var spec = ModelSpecs.Find(specName);
        var weights = ReferenceWeights.Random(spec.Config, seed: 23);
        using var model = new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name)));
        int[] tokens = Enumerable.Range(0, 3 * 40).Select(i => (i * 37 + 11) % spec.Config.Vocab).ToArray();

        var generic = model.Forward(tokens, 3,
            new ForwardOptions { FusedKernels = false, SizeSpecialised = false, KeepIntermediates = keepIntermediates });
        var genericIntermediates = keepIntermediates ? model.Intermediates() : [];
        // The defaults (fused, specialised), with a one-byte expert scratch as well: every expert's activation in its own launch.
        var fused = model.Forward(tokens, 3, new ForwardOptions { KeepIntermediates = keepIntermediates, ExpertScratchBytes = 1 });
        var fusedIntermediates = keepIntermediates ? model.Intermediates() : [];

        Assert.Equal(generic.Logits, fused.Logits);
        Assert.Equal(generic.MoeLayers.Count, fused.MoeLayers.Count);
        for (int l = 0; l < fused.MoeLayers.Count; l++)
        {
            Assert.Equal(generic.MoeLayers[l].Routing.Row, fused.MoeLayers[l].Routing.Row);
            Assert.Equal(generic.MoeLayers[l].Routing.Weight, fused.MoeLayers[l].Routing.Weight);
        }
        Assert.Equal(genericIntermediates.Select(i => i.Name), fusedIntermediates.Select(i => i.Name));
        foreach (var ((name, expected), (_, actual)) in genericIntermediates.Zip(fusedIntermediates))
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{specName}: {name} differs");
        Assert.NotEqual(generic.Launches.Total, fused.Launches.Total);
    }

    [Fact]
    public void A_shipped_spec_runs_the_kernels_of_its_generated_dims()
    {
        // A device of its own: which kernels got loaded is the evidence.
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var weights = ReferenceWeights.Random(spec.Config, seed: 5);
        using var model = new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name)));
        model.Forward(Enumerable.Range(0, 2 * 16).ToArray(), 2);

        var cache = device.Kernels;
        // D = 64 is a whole number of packs: the CPU runs the packed forms of the norms, the embedding and the fused combine.
        Assert.True(cache.IsLoaded(new Action<ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(Embedding.GatherPacked<OpenMoETiny.Dims>)));
        Assert.True(cache.IsLoaded(new Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(RmsNorm.ForwardPacked<OpenMoETiny.Dims>)));
        Assert.True(cache.IsLoaded(new Action<ArrayView<float>, ArrayView<float>, RopeShape>(Rope.ApplyQueryKey<OpenMoETiny.Dims>)));
        Assert.True(cache.IsLoaded(new Action<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(
            MoeCombineResidualNorm.ForwardPacked<OpenMoETiny.Dims>)));
        Assert.False(cache.IsLoaded(new Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(RmsNorm.ForwardPacked)));
        Assert.False(cache.IsLoaded(new Action<ArrayView<float>, ArrayView<float>, RopeShape, int>(Rope.ApplyQueryKey)));
    }
}
