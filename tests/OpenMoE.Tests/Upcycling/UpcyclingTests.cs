using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;

namespace OpenMoE.Tests.Upcycling;

/// <summary>
/// <see cref="Upcycling"/> tensor by tensor against the dense weights it starts from, and the law that
/// makes upcycling function-preserving: a convex combination of identical experts is that expert.
/// </summary>
public class UpcyclingTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    private const ulong Seed = 7;

    private static Dictionary<string, float[]> DenseWeights(ModelSpecInfo dense, ulong seed) =>
        dense.Parameters.ToDictionary(p => p.Name, p => WeightInitializer.Create(dense.Config, p, seed), StringComparer.Ordinal);

    private static Dictionary<string, float[]> Upcycle(ModelSpecInfo dense, ModelSpecInfo moe, Dictionary<string, float[]> weights, double noise)
    {
        Model.Checkpointing.Upcycling.CheckCompatible(dense, moe);
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var p in moe.Parameters)
        {
            var values = new List<float>();
            Model.Checkpointing.Upcycling.Stream(dense, moe, p, name => weights[name], Seed, noise, chunk => values.AddRange(chunk.ToArray()));
            Assert.Equal(p.Elements, values.Count);
            result[p.Name] = [.. values];
        }
        return result;
    }

    // The dense FFN tensor an expert tensor comes from, in the expert's own layout: element (e, i) of the
    // stack [E, a, b] is element (j, i') of the dense [b, a], written out index by index.
    private static float ExpectedExpertValue(ParameterInfo expert, ParameterInfo denseTensor, float[] dense, long index)
    {
        if (expert.Shape.Length == 2)
            return dense[index];
        long a = expert.Shape[1], b = expert.Shape[2];
        long within = index % (a * b);
        long row = within / b, column = within % b;
        Assert.Equal(b, denseTensor.Shape[0]);
        return dense[column * a + row];
    }

    [Theory]
    [InlineData("OpenMoE-Tiny-Dense", "OpenMoE-Tiny")]
    [InlineData("Mixtral-Tiny-Dense", "Mixtral-Tiny")]
    public void Every_expert_equals_the_dense_ffn_and_every_shared_tensor_is_copied_exactly(string denseName, string moeName)
    {
        var dense = ModelSpecs.Find(denseName);
        var moe = ModelSpecs.Find(moeName);
        var weights = DenseWeights(dense, seed: 3);
        var upcycled = Upcycle(dense, moe, weights, noise: 0);

        int experts = 0, copied = 0;
        foreach (var p in moe.Parameters)
        {
            var values = upcycled[p.Name];
            switch (p.Role)
            {
                case ParameterRole.ExpertGate or ParameterRole.ExpertUp or ParameterRole.ExpertDown:
                    var role = p.Role == ParameterRole.ExpertGate ? ParameterRole.DenseGate : p.Role == ParameterRole.ExpertUp ? ParameterRole.DenseUp : ParameterRole.DenseDown;
                    var source = dense.Parameters.Single(d => d.Layer == p.Layer && d.Role == role);
                    for (long i = 0; i < values.Length; i++)
                        Assert.Equal(ExpectedExpertValue(p, source, weights[source.Name], i), values[i]);
                    experts++;
                    break;
                case ParameterRole.Router:
                    Assert.Equal(WeightInitializer.Create(moe.Config, p, Seed), values);
                    break;
                case ParameterRole.ExtraDown:
                    Assert.All(values, v => Assert.Equal(0f, v));
                    break;
                case ParameterRole.ExtraNorm or ParameterRole.ExtraGate or ParameterRole.ExtraUp:
                    Assert.Equal(WeightInitializer.Create(moe.Config, p, Seed), values);
                    break;
                default:
                    Assert.Equal(weights[p.Name], values);
                    copied++;
                    break;
            }
        }
        // OpenMoE stacks the experts of a layer in one tensor per projection; Mixtral has one tensor per expert.
        bool stacked = moe.Config.FfnKind == FfnKind.OpenMoEGated;
        Assert.Equal(moe.Config.MoeLayers.Count * 3 * (stacked ? 1 : moe.Config.Experts), experts);
        // Embedding, LM head, final norm; per layer 2 norms and 4 attention projections; 3 FFN tensors per dense layer.
        int denseLayers = moe.Config.Layers - moe.Config.MoeLayers.Count;
        Assert.Equal(3 + 6 * moe.Config.Layers + 3 * denseLayers, copied);
    }

    [Fact]
    public void Noise_makes_each_expert_a_different_copy_off_by_the_relative_amount()
    {
        var dense = ModelSpecs.Find("Mixtral-Tiny-Dense");
        var moe = ModelSpecs.Find("Mixtral-Tiny");
        var weights = DenseWeights(dense, seed: 3);
        var upcycled = Upcycle(dense, moe, weights, noise: 0.1);

        var gates = moe.Parameters.Where(p => p.Layer == 0 && p.Role == ParameterRole.ExpertGate).ToArray();
        var source = weights[dense.Parameters.Single(p => p.Layer == 0 && p.Role == ParameterRole.DenseGate).Name];
        Assert.NotEqual(upcycled[gates[0].Name], upcycled[gates[1].Name]);
        foreach (var gate in gates)
        {
            // w' = w (1 + 0.1 n): the relative deviations are N(0, 0.1^2); over 8192 values their std is 0.1 within a few percent.
            var relative = upcycled[gate.Name].Select((v, i) => (double)v / source[i] - 1).ToArray();
            double mean = relative.Average();
            double std = Math.Sqrt(relative.Sum(r => (r - mean) * (r - mean)) / relative.Length);
            Assert.InRange(mean, -0.01, 0.01);
            Assert.InRange(std, 0.095, 0.105);
        }
    }

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.05, false)]
    public void Upcycled_mixtral_computes_the_dense_model_when_its_experts_are_identical(double noise, bool equal)
    {
        // Mixtral renormalises the top-2 weights to sum to one and drops nothing, so each token's MoE output is
        // a convex combination of identical experts: the dense FFN itself. With noise the experts differ and so does the output.
        var dense = ModelSpecs.Find("Mixtral-Tiny-Dense");
        var moe = ModelSpecs.Find("Mixtral-Tiny");
        var weights = DenseWeights(dense, seed: 3);
        var upcycled = Upcycle(dense, moe, weights, noise);
        var random = new Random(11);
        int[] tokens = Enumerable.Range(0, 2 * 32).Select(_ => random.Next(3, dense.Config.Vocab)).ToArray();

        using var denseModel = new MoeTransformer(fixture.Device, dense, DeviceWeights.Load(fixture.Device, dense, p => weights[p.Name]));
        using var moeModel = new MoeTransformer(fixture.Device, moe, DeviceWeights.Load(fixture.Device, moe, p => upcycled[p.Name]));
        var expected = denseModel.Forward(tokens, batch: 2).Logits;
        var actual = moeModel.Forward(tokens, batch: 2).Logits;

        // fp32: the MoE path sums w1 f + w2 f with w1 + w2 = 1 in another order than f alone.
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a) / (1e-3 + 1e-3 * Math.Abs(e))).Max();
        Assert.True(equal ? worst <= 1 : worst > 1, $"largest logit difference is {worst:G3} of the bound");
    }

    [Theory]
    [InlineData("OpenMoE-Tiny-Dense", "Mixtral-Tiny", "KvHeads")]
    [InlineData("OpenMoE-Tiny-Dense", "DeepSeekMoE-Tiny", "AttentionScale")]
    [InlineData("Mixtral-Tiny", "Mixtral-Tiny", "has MoE layers")]
    [InlineData("OpenMoE-Tiny-Dense", "OpenMoE-Tiny-Dense", "dense spec")]
    public void Incompatible_specs_are_refused_naming_what_differs(string denseName, string moeName, string mention)
    {
        var ex = Assert.Throws<ArgumentException>(() => Model.Checkpointing.Upcycling.CheckCompatible(ModelSpecs.Find(denseName), ModelSpecs.Find(moeName)));
        Assert.Contains(mention, ex.Message, StringComparison.Ordinal);
    }
}
