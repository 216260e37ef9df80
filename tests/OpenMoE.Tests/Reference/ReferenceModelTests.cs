using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

public class ReferenceModelTests
{
    [Fact]
    public void Tiny_OpenMoE_forward_gives_finite_logits_and_cross_entropy_near_log_vocab_at_init()
    {
        var config = ReferenceConfigs.TinyOpenMoE();
        var weights = ReferenceWeights.Random(config, seed: 1);
        var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 16, seed: 2);
        var result = ReferenceModel.Forward(config, weights, tokens, config.EvalCapacityFactor);

        Assert.Equal(2 * 16 * 512, result.Logits.Length);
        Assert.All(result.Logits, value => Assert.True(double.IsFinite(value)));
        Assert.Equal(2 * 15, result.TargetCount);
        Assert.InRange(result.CrossEntropy, Math.Log(512) - 0.3, Math.Log(512) + 0.3);

        Assert.Equal(new[] { 1, 3 }, result.Routing.Select(r => r.Layer));
        // Near-uniform routing at init: load balance ~ k = 2, z-loss ~ (ln 8)^2.
        Assert.InRange(result.LoadBalanceLoss, 1.9, 2.3);
        Assert.InRange(result.RouterZLoss, Math.Pow(Math.Log(8), 2) - 0.1, Math.Pow(Math.Log(8), 2) + 0.1);
        Assert.All(result.Layers, trace => Assert.Equal(trace.Layer % 2 == 1, trace.ExtraFfnInput != null));

        var named = result.NamedResiduals();
        Assert.Equal(
            ["L0.attn_in", "L0.ffn_in", "L0.out", "L1.attn_in", "L1.ffn_in", "L1.extra_in", "L1.out",
             "L2.attn_in", "L2.ffn_in", "L2.out", "L3.attn_in", "L3.ffn_in", "L3.extra_in", "L3.out", "final_in"],
            named.Select(n => n.Name));
        Assert.Equal(ReferenceModel.Embed(config, weights, tokens), named[0].Values);
        Assert.Equal(named[^2].Values, named[^1].Values);
    }

    [Fact]
    public void Routing_record_respects_capacity_and_drops_when_it_is_tight()
    {
        var config = ReferenceConfigs.TinyOpenMoE();
        var weights = ReferenceWeights.Random(config, seed: 1);
        var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 16, seed: 2);
        // N = 32, E = 8, cf 0.5: round(2) = 2 -> min capacity 4; 64 assignments for 32 slots must drop.
        var result = ReferenceModel.Forward(config, weights, tokens, capacityFactor: 0.5);
        foreach (var layer in result.Routing)
        {
            Assert.Equal(4, layer.Capacity);
            Assert.True(layer.DropRatio >= 0.5);
            for (int e = 0; e < config.Experts; e++)
            {
                // In priority order (rank-major, then token) an expert's slots read 0, 1, ..., c-1, then only drops.
                var inPriorityOrder = Enumerable.Range(0, config.TopK)
                    .SelectMany(rank => layer.Tokens.Where(t => t.Experts[rank] == e).Select(t => t.Slots[rank]))
                    .ToArray();
                int kept = inPriorityOrder.Count(slot => slot >= 0);
                Assert.True(kept <= layer.Capacity);
                Assert.Equal(Enumerable.Range(0, kept).Concat(Enumerable.Repeat(-1, inPriorityOrder.Length - kept)), inPriorityOrder);
                Assert.True(kept == inPriorityOrder.Length || kept == layer.Capacity, "an expert drops only when full");
            }
            foreach (var token in layer.Tokens)
            {
                Assert.Equal(1.0, token.Probabilities.Sum(), 12);
                Assert.Equal(token.Experts.Select(e => token.Probabilities[e]), token.Weights); // raw softmax combine
                Assert.True(token.Probabilities[token.Experts[0]] >= token.Probabilities[token.Experts[1]]);
                Assert.True(token.TopKMargin >= 0);
            }
        }
    }

    [Fact]
    public void Changing_a_later_token_leaves_earlier_logits_unchanged_when_nothing_drops()
    {
        var config = ReferenceConfigs.TinyOpenMoE() with { CapacityRule = CapacityRule.Dropless };
        var weights = ReferenceWeights.Random(config, seed: 4);
        var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 10, seed: 5);
        var baseline = ReferenceModel.Forward(config, weights, tokens, 1.0);

        var changed = tokens.Select(row => (int[])row.Clone()).ToArray();
        changed[1][7] = (changed[1][7] + 1) % config.Vocab;
        var result = ReferenceModel.Forward(config, weights, changed, 1.0);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 10; t++)
            {
                double difference = Enumerable.Range(0, config.Vocab).Max(v => Math.Abs(result.Logit(b, t, v) - baseline.Logit(b, t, v)));
                if (b == 1 && t >= 7) Assert.True(difference > 1e-6, $"logits at ({b}, {t}) should see the change");
                else Assert.True(difference <= 1e-12, $"logits at ({b}, {t}) changed by {difference}");
            }

        var prefix = ReferenceModel.ForwardPrefix(config, weights, tokens, prefixLength: 6, 1.0);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 6; t++)
                for (int v = 0; v < config.Vocab; v++)
                    Assert.Equal(baseline.Logit(b, t, v), prefix.Logit(b, t, v), 12);
    }

    [Fact]
    public void A_one_expert_top_1_moe_equals_a_dense_ffn_with_the_same_weights()
    {
        var moeConfig = ReferenceConfigs.TinyOpenMoE() with
        {
            Layers = 2, Experts = 1, TopK = 1, SharedExpertKind = SharedExpertKind.None, SharedExperts = 0, SharedExpertFfn = 0,
        };
        var denseConfig = moeConfig with { MoeLayerParameter = 1000 }; // no layer index satisfies (i + 1) % 1000 == 0
        var moeWeights = ReferenceWeights.Random(moeConfig, seed: 9);

        int D = moeConfig.Hidden, F = moeConfig.Ffn;
        var denseTensors = moeWeights.Tensors.Where(p => !p.Key.Contains(".mlp.")).ToDictionary(p => p.Key, p => p.Value);
        // Layer 1 is the MoE layer: expert 0's stacked [in, out] slices become [out, in] dense weights.
        denseTensors[ReferenceNames.Layer(0, "mlp.gate_proj.weight")] = moeWeights[ReferenceNames.Layer(0, "mlp.gate_proj.weight")];
        denseTensors[ReferenceNames.Layer(0, "mlp.up_proj.weight")] = moeWeights[ReferenceNames.Layer(0, "mlp.up_proj.weight")];
        denseTensors[ReferenceNames.Layer(0, "mlp.down_proj.weight")] = moeWeights[ReferenceNames.Layer(0, "mlp.down_proj.weight")];
        denseTensors[ReferenceNames.Layer(1, "mlp.gate_proj.weight")] = Transposed(moeWeights[ReferenceNames.Layer(1, "mlp.experts.wi_gate")], D, 2 * F);
        denseTensors[ReferenceNames.Layer(1, "mlp.up_proj.weight")] = Transposed(moeWeights[ReferenceNames.Layer(1, "mlp.experts.wi_up")], D, F);
        denseTensors[ReferenceNames.Layer(1, "mlp.down_proj.weight")] = Transposed(moeWeights[ReferenceNames.Layer(1, "mlp.experts.wo")], F, D);
        var denseWeights = ReferenceWeights.FromTensors(denseConfig, denseTensors);

        var tokens = ReferenceConfigs.RandomTokens(moeConfig, batch: 2, time: 8, seed: 10);
        var moe = ReferenceModel.Forward(moeConfig, moeWeights, tokens, 2.0);
        var dense = ReferenceModel.Forward(denseConfig, denseWeights, tokens, 2.0);
        Assert.Single(moe.Routing);
        Assert.Empty(dense.Routing);
        Assert.Equal(0.0, moe.Routing[0].DropRatio);
        Assert.Equal(dense.Logits, moe.Logits, new ToleranceComparer(1e-12));
    }

    [Fact]
    public void Target_mask_limits_the_cross_entropy_to_the_marked_targets()
    {
        var config = ReferenceConfigs.TinyMixtral();
        var weights = ReferenceWeights.Random(config, seed: 3);
        var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 5, seed: 4);
        bool[][] mask = [[false, false, false, true, false], [false, true, false, false, false]];
        var result = ReferenceModel.Forward(config, weights, tokens, 1.0, mask);

        // Target tokens[0][3] is predicted at (0, 2), tokens[1][1] at (1, 0).
        double Nll(int b, int t, int target) =>
            Math.Log(Enumerable.Range(0, config.Vocab).Sum(v => Math.Exp(result.Logit(b, t, v)))) - result.Logit(b, t, target);
        Assert.Equal(2, result.TargetCount);
        Assert.Equal((Nll(0, 2, tokens[0][3]) + Nll(1, 0, tokens[1][1])) / 2, result.CrossEntropy, 12);
    }

    [Fact]
    public void Mixtral_and_DeepSeekMoE_layouts_run_dropless_with_their_gating()
    {
        foreach (var config in new[] { ReferenceConfigs.TinyMixtral(), ReferenceConfigs.TinyDeepSeekMoE() })
        {
            var weights = ReferenceWeights.Random(config, seed: 6);
            var tokens = ReferenceConfigs.RandomTokens(config, batch: 2, time: 6, seed: 7);
            var result = ReferenceModel.Forward(config, weights, tokens, 1.0);
            Assert.All(result.Logits, value => Assert.True(double.IsFinite(value)));
            Assert.InRange(result.CrossEntropy, Math.Log(config.Vocab) - 0.5, Math.Log(config.Vocab) + 0.5);
            Assert.Equal(config.MoeLayers, result.Routing.Select(r => r.Layer));
            foreach (var token in result.Routing.SelectMany(r => r.Tokens))
            {
                Assert.All(token.Slots, slot => Assert.True(slot >= 0));
                double expectedSum = config.Gating == Gating.RenormalizedTopK ? 1.0 : token.Experts.Sum(e => token.Probabilities[e]);
                Assert.Equal(expectedSum, token.Weights.Sum(), 12);
            }
        }
    }

    [Fact]
    public void Bad_inputs_are_rejected_with_a_message_naming_the_problem()
    {
        var config = ReferenceConfigs.TinyMixtral();
        var weights = ReferenceWeights.Random(config, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => ReferenceModel.Forward(config, weights, [[1, config.Vocab]], 1.0));
        Assert.Contains("outside the vocabulary", error.Message);
        error = Assert.Throws<ArgumentException>(() => ReferenceModel.Forward(config, weights, [[1, 2], [3]], 1.0));
        Assert.Contains("length", error.Message);
    }

    private static ReferenceTensor Transposed(ReferenceTensor stack, int rows, int cols)
    {
        var result = new ReferenceTensor([cols, rows]);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                result.Data[c * rows + r] = stack.Data[r * cols + c];
        return result;
    }
}
