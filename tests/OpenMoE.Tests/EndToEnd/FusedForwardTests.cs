using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.EndToEnd;

/// <summary>
/// The fused kernels and the shared expert scratch change launches, not results: on the CPU accelerator
/// (which does not contract multiply-adds) each fused kernel does its unfused ops' float operations in
/// their order, so the whole forward, its routing and its training-style pass are bit-identical.
/// </summary>
public class FusedForwardTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    [Theory]
    [InlineData("OpenMoE-Tiny", false)]
    [InlineData("OpenMoE-Tiny", true)]
    [InlineData("Mixtral-Tiny", false)]
    [InlineData("DeepSeekMoE-Tiny", false)]
    public void Fused_and_unfused_forwards_are_bit_identical(string specName, bool keepIntermediates)
    {
        var device = fixture.Device;
        var spec = ModelSpecs.Find(specName);
        var weights = ReferenceWeights.Random(spec.Config, seed: 23);
        using var model = new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name)));
        int[] tokens = Enumerable.Range(0, 3 * 40).Select(i => (i * 37 + 11) % spec.Config.Vocab).ToArray();

        var unfused = model.Forward(tokens, 3, new ForwardOptions { FusedKernels = false, KeepIntermediates = keepIntermediates });
        var unfusedIntermediates = keepIntermediates ? model.Intermediates() : [];
        // Fused, with a one-byte expert scratch as well: every expert's activation in its own launch.
        var fused = model.Forward(tokens, 3, new ForwardOptions { KeepIntermediates = keepIntermediates, ExpertScratchBytes = 1 });
        var fusedIntermediates = keepIntermediates ? model.Intermediates() : [];

        Assert.Equal(unfused.Logits, fused.Logits);
        Assert.Equal(unfused.MoeLayers.Count, fused.MoeLayers.Count);
        for (int l = 0; l < fused.MoeLayers.Count; l++)
        {
            Assert.Equal(unfused.MoeLayers[l].Routing.Row, fused.MoeLayers[l].Routing.Row);
            Assert.Equal(unfused.MoeLayers[l].Routing.Weight, fused.MoeLayers[l].Routing.Weight);
        }
        Assert.Equal(unfusedIntermediates.Select(i => i.Name), fusedIntermediates.Select(i => i.Name));
        foreach (var ((name, expected), (_, actual)) in unfusedIntermediates.Zip(fusedIntermediates))
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{specName}: {name} differs");
        Assert.NotEqual(unfused.Launches.Total, fused.Launches.Total);
    }
}
