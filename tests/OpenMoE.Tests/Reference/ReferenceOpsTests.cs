namespace OpenMoE.Tests.Reference;

public class ReferenceOpsTests
{
    [Fact]
    public void RmsNorm_of_a_hand_vector_scales_by_inverse_root_mean_square_and_weight()
    {
        double[] x = [1, 2, 3, 4];
        double[] w = [1, 1, 2, 0.5];
        // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5
        double r = 1.0 / Math.Sqrt(7.5 + 1e-6);
        var y = ReferenceOps.RmsNorm(x, 1, 4, w, 1e-6);
        Assert.Equal(new[] { 1 * r, 2 * r, 3 * r * 2, 4 * r * 0.5 }, y, new ToleranceComparer(1e-15));
    }

    [Fact]
    public void Rope_at_position_zero_is_the_identity()
    {
        double[] v = [0.3, -1.2, 2.5, 0.7, -0.1, 4.0];
        var rotated = (double[])v.Clone();
        ReferenceOps.ApplyRope(rotated, 0, 6, position: 0, theta: 10000);
        Assert.Equal(v, rotated);
    }

    [Fact]
    public void Rope_preserves_the_norm_at_every_position()
    {
        var random = new Random(3);
        var v = Enumerable.Range(0, 16).Select(_ => random.NextDouble() - 0.5).ToArray();
        double norm = Math.Sqrt(v.Sum(a => a * a));
        for (int position = 1; position < 50; position += 7)
        {
            var rotated = (double[])v.Clone();
            ReferenceOps.ApplyRope(rotated, 0, 16, position, 10000);
            Assert.Equal(norm, Math.Sqrt(rotated.Sum(a => a * a)), 12);
            Assert.NotEqual(v, rotated);
        }
    }

    [Fact]
    public void Rope_pairs_dimension_i_with_i_plus_half_not_its_neighbour()
    {
        // hd = 4: inv_freq = [1, 10000^(-1/2)] = [1, 0.01]; dims (0, 2) rotate by pos*1, dims (1, 3) by pos*0.01.
        double[] first = [1, 0, 0, 0];
        ReferenceOps.ApplyRope(first, 0, 4, position: 1, theta: 10000);
        Assert.Equal(new[] { Math.Cos(1), 0, Math.Sin(1), 0 }, first, new ToleranceComparer(1e-15));

        double[] second = [0, 0, 0, 1];
        ReferenceOps.ApplyRope(second, 0, 4, position: 2, theta: 10000);
        // rotate_half([a, b]) = [-b, a]: the second-half input feeds the first half with a minus sign.
        Assert.Equal(new[] { 0, -Math.Sin(0.02), 0, Math.Cos(0.02) }, second, new ToleranceComparer(1e-15));
    }

    [Fact]
    public void Causal_attention_weights_two_tokens_by_a_hand_computed_softmax()
    {
        // One head, hd 2, scale 1. t = 0 sees only itself; t = 1 has scores [q1·k0, q1·k1] = [0, ln 3] -> weights [1/4, 3/4].
        double[] q = [5, 5, 1, 0];
        double[] k = [0, 0, Math.Log(3), 0];
        double[] v = [1, 0, 0, 1];
        var output = ReferenceOps.CausalAttention(q, k, v, batch: 1, time: 2, heads: 1, kvHeads: 1, headDim: 2, logitScale: 1.0);
        Assert.Equal(new[] { 1.0, 0.0, 0.25, 0.75 }, output, new ToleranceComparer(1e-15));
    }

    [Fact]
    public void Attention_over_one_token_returns_the_output_projection_of_its_value()
    {
        foreach (var config in new[] { ReferenceConfigs.TinyOpenMoE(), ReferenceConfigs.TinyMixtral() })
        {
            var weights = ReferenceWeights.Random(config, seed: 11);
            int D = config.Hidden, hd = config.HeadDim, H = config.Heads, KV = config.KvHeads;
            var random = new Random(5);
            var normed = Enumerable.Range(0, D).Select(_ => random.NextDouble() - 0.5).ToArray();

            var value = ReferenceOps.Linear(normed, 1, D, weights[ReferenceNames.Layer(0, "self_attn.v_proj.weight")].Data, KV * hd);
            // Query head h reads kv head h / (H / KV).
            var perHead = new double[H * hd];
            for (int h = 0; h < H; h++) Array.Copy(value, h / (H / KV) * hd, perHead, h * hd, hd);
            var expected = ReferenceOps.Linear(perHead, 1, H * hd, weights[ReferenceNames.Layer(0, "self_attn.o_proj.weight")].Data, D);

            var actual = ReferenceModel.AttentionSublayer(config, weights, 0, normed, batch: 1, time: 1);
            Assert.Equal(expected, actual, new ToleranceComparer(1e-14));
        }
    }
}

/// <summary>abs(a - b) &lt;= tolerance * (1 + |b|).</summary>
public sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
{
    public bool Equals(double expected, double actual) => Math.Abs(expected - actual) <= tolerance * (1 + Math.Abs(expected));
    public int GetHashCode(double value) => 0;
}
