using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.EndToEnd;

/// <summary>
/// The device forward (ILGPU kernels + GEMM provider + device router) against the independent
/// double-precision reference model, for the tiny spec of every family (issue 3 item 8).
/// </summary>
public abstract class DeviceForwardTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    // fp32 device vs fp64 reference over 4 layers: the error bound the whole forward declares.
    private const double LogitAbs = 2e-3, LogitRel = 2e-3;
    // A top-k margin smaller than this may legitimately flip in fp32.
    private const double TieMargin = 1e-5;

    private ComputeDevice Device => fixture.Device;

    [Theory]
    [InlineData("OpenMoE-Tiny", 2.0)]
    [InlineData("OpenMoE-Tiny", 1.25)]
    [InlineData("OpenMoE-Tiny", 0.5)]
    [InlineData("Mixtral-Tiny", 1.0)]
    [InlineData("DeepSeekMoE-Tiny", 1.0)]
    public void Device_forward_equals_the_double_precision_reference(string specName, double capacityFactor)
    {
        var spec = ModelSpecs.Find(specName);
        var weights = ReferenceWeights.Random(spec.Config, seed: 17);
        int[][] tokens = RandomTokens(spec.Config.Vocab, batch: 2, time: 24, seed: 5);
        var expected = ReferenceModel.Forward(spec.Config, weights, tokens, capacityFactor);

        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        var actual = model.Forward(tokens.SelectMany(row => row).ToArray(), tokens.Length,
            new ForwardOptions { CapacityFactor = capacityFactor });

        Assert.Equal(expected.Logits.Length, actual.Logits.Length);
        for (int i = 0; i < expected.Logits.Length; i++)
        {
            double bound = LogitAbs + LogitRel * Math.Abs(expected.Logits[i]);
            Assert.True(Math.Abs(actual.Logits[i] - expected.Logits[i]) <= bound,
                $"{specName}: logit {i} is {actual.Logits[i]}, reference {expected.Logits[i]} (bound {bound:G3}).");
        }
        Assert.True(AssertSameRouting(expected, actual) > 0, "every MoE layer had a near-tie: no routing was compared");
        Assert.Equal(expected.LoadBalanceLoss, actual.LoadBalancingLoss, 4);
        Assert.Equal(expected.RouterZLoss, actual.RouterZLoss, 3);
    }

    [Fact]
    public void Parameter_table_matches_the_independent_reference_table()
    {
        foreach (var spec in ModelSpecs.All.Where(s => s.Config.Hidden <= 64))
        {
            var reference = ReferenceParameterTable.For(spec.Config).ToDictionary(p => p.Name, p => p.Shape);
            var generated = spec.Parameters.ToDictionary(p => p.Name, p => p.Shape.ToArray());
            Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), generated.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, shape) in reference)
                Assert.Equal(shape.Select(x => (long)x), generated[name]);
        }
    }

    [Fact]
    public void Cached_decoding_equals_full_recomputation_when_nothing_drops()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var weights = ReferenceWeights.Random(spec.Config, seed: 3);
        int[] tokens = RandomTokens(spec.Config.Vocab, batch: 1, time: 12, seed: 9)[0];
        var noDrops = new ForwardOptions { CapacityFactor = 64 };
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));

        var full = model.Forward(tokens, 1, noDrops);
        Assert.All(full.MoeLayers, layer => Assert.Equal(0, layer.Routing.DroppedAssignments));
        using var cache = model.CreateCache(1, tokens.Length);
        model.Forward(tokens[..5], 1, noDrops, cache);
        for (int t = 5; t < tokens.Length; t++)
        {
            var step = model.Forward([tokens[t]], 1, noDrops, cache);
            var fullRow = full.Row(0, t);
            var stepRow = step.Row(0, 0);
            for (int v = 0; v < fullRow.Length; v++)
                Assert.True(Math.Abs(fullRow[v] - stepRow[v]) <= 1e-4 + 1e-4 * Math.Abs(fullRow[v]),
                    $"position {t}, logit {v}: cached {stepRow[v]} vs full {fullRow[v]}");
        }
    }

    [Fact]
    public void Bad_tokens_and_lengths_are_rejected_with_a_clear_message()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var weights = ReferenceWeights.Random(spec.Config, seed: 1);
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, p => weights.ToFloats(p.Name)));
        var outside = Assert.Throws<ArgumentException>(() => model.Forward([1, spec.Config.Vocab], 1));
        Assert.Contains("outside the vocabulary", outside.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => model.Forward(new int[spec.Config.ContextLength + 1], 1));
        Assert.Contains("context length", tooLong.Message);
        var empty = Assert.Throws<ArgumentException>(() => model.Forward([], 1));
        Assert.Contains("non-empty", empty.Message);
        var shape = Assert.Throws<ArgumentException>(() => DeviceWeights.Load(Device, spec, p => new float[p.Elements + 1]));
        Assert.Contains("needs shape", shape.Message);
    }

    /// <summary>Asserts identical routing per MoE layer; returns how many layers were compared.</summary>
    private static int AssertSameRouting(ReferenceForwardResult expected, ForwardResult actual)
    {
        int compared = 0;
        Assert.Equal(expected.Routing.Count, actual.MoeLayers.Count);
        for (int m = 0; m < expected.Routing.Count; m++)
        {
            var reference = expected.Routing[m];
            var device = actual.MoeLayers[m];
            Assert.Equal(reference.Layer, device.Layer);
            Assert.Equal(reference.Capacity, device.Routing.Capacity);
            // A near-tie that flips in fp32 would legitimately change every later slot, so
            // exact equality is required only when no token of the layer is that close.
            if (reference.Tokens.Any(t => t.TopKMargin < TieMargin))
                continue;
            for (int t = 0; t < reference.Tokens.Length; t++)
            {
                var route = reference.Tokens[t];
                for (int r = 0; r < route.Experts.Length; r++)
                {
                    Assert.Equal(route.Experts[r], device.Routing.ExpertOf(t, r));
                    Assert.Equal(route.Slots[r], device.Routing.SlotOf(t, r));
                }
            }
            compared++;
        }
        return compared;
    }

    private static int[][] RandomTokens(int vocab, int batch, int time, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, time).Select(_ => random.Next(vocab)).ToArray()).ToArray();
    }
}

/// <summary>On ILGPU's CPU accelerator (always).</summary>
public sealed class CpuDeviceForwardTests(CpuDeviceFixture fixture) : DeviceForwardTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
/// <summary>On the first CUDA GPU (compiled with OPENMOE_CUDA_TESTS=1).</summary>
public sealed class CudaDeviceForwardTests(CudaDeviceFixture fixture) : DeviceForwardTests<CudaDeviceFixture>(fixture);
#endif
