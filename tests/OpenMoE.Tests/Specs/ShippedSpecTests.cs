using OpenMoE.Kernels;
using OpenMoE.Model.Specs;
using OpenMoE.Model.Specs.Shipped;

namespace OpenMoE.Tests.Specs;

/// <summary>The shipped specs' generated numbers, checked against counts derived by hand.</summary>
public class ShippedSpecTests
{
    [Fact]
    public void Mixtral_8x7B_total_is_exact()
    {
        // V 32000, D 4096, L 32, H 32, kv 8, hd 128, F 14336, E 8, untied:
        // embed + head 2*32000*4096 = 262,144,000; attention per layer 2*4096*4096 + 2*1024*4096 = 41,943,040;
        // experts per layer 8*3*14336*4096 = 1,409,286,144; router 8*4096; norms 2*4096 per layer + 4096 final.
        const long expected = 262_144_000 + 32 * (41_943_040L + 1_409_286_144L + 32_768 + 8_192) + 4_096;
        Assert.Equal(46_702_792_704, expected);
        Assert.Equal(expected, Mixtral8x7B.TotalParams);
        Assert.Equal(expected, ModelSpecs.Find("Mixtral-8x7B").TotalParams);
    }

    [Fact]
    public void OpenMoE_Base_activated_is_141_6M()
    {
        // D 768, F 2048, L 12, MoE layers 3, 7, 11, E 16, K 2. OpenMoE FFN = 2F*D + F*D + D*F = 4FD.
        // attention 12*4*768^2 = 28,311,552; dense FFNs 9*4FD = 56,623,104; extra FFNs 3*4FD = 18,874,368;
        // top-2 experts 3*2*4FD = 37,748,736; routers 3*16*768 = 36,864; norms 12*2*768 + 3*768 + 768 = 21,504.
        Assert.Equal(141_616_128, OpenMoEBase16E.ActivatedParams);
        Assert.Equal(141_616_128 + 2L * 256_384 * 768, OpenMoEBase16E.ActivatedParamsWithEmbeddings);
    }

    [Fact]
    public void A_dense_spec_counts_one_ffn_per_layer_and_nothing_routed()
    {
        // OpenMoE-Tiny-Dense: V 512, D 64, 4 layers of attention 4*64*64 + one gated FFN 4*F*D (F 128) + 2 norms of 64,
        // final norm 64, untied embedding and LM head 2*512*64. No router, no expert, no extra FFN.
        const long perLayer = 4 * 64 * 64 + 4 * 128 * 64 + 2 * 64;
        const long embeddings = 2 * 512 * 64;
        Assert.Equal(embeddings + 4 * perLayer + 64, OpenMoETinyDense.TotalParams);
        Assert.Equal(4 * perLayer + 64, OpenMoETinyDense.ActivatedParams);
        Assert.DoesNotContain(OpenMoETinyDense.Info.Parameters, p => p.Role is ParameterRole.Router or ParameterRole.ExpertGate or ParameterRole.ExtraGate);
        // OpenMoE-Mini differs from OpenMoE-Tiny only in the vocabulary: the same activated count.
        Assert.Equal(OpenMoETiny.ActivatedParams, OpenMoEMini.ActivatedParams);
        Assert.Equal(OpenMoETiny.TotalParams + 2L * (50_432 - 512) * 64, OpenMoEMini.TotalParams);
    }

    [Fact]
    public void Published_activated_figures_of_other_families_round_to_our_counts()
    {
        // Mixtral's 12.9B and DeepSeekMoE's 2.8B count the embedding and LM head.
        Assert.Equal(12.9, Math.Round(Mixtral8x7B.ActivatedParamsWithEmbeddings / 1e9, 1));
        Assert.Equal(2.8, Math.Round(DeepSeekMoE16B.ActivatedParamsWithEmbeddings / 1e9, 1));
        Assert.Equal(16.4, Math.Round(DeepSeekMoE16B.TotalParams / 1e9, 1));
    }

    public static TheoryData<string, int[]> MoeLayerCases => new()
    {
        { "OpenMoE-Base/16E", [3, 7, 11] },
        { "OpenMoE-8B/32E", [5, 11, 17, 23] },
        { "OpenMoE-34B/32E", [3, 7, 11, 15, 19, 23, 27, 31] },
        { "OpenMoE-Tiny", [1, 3] },
        { "Mixtral-8x7B", [.. Enumerable.Range(0, 32)] },
        { "Mixtral-Tiny", [0, 1, 2, 3] },
        { "DeepSeekMoE-16B", [.. Enumerable.Range(1, 27)] },
        { "DeepSeekMoE-Tiny", [1, 2, 3] },
        { "OpenMoE-Tiny-Dense", [] },
        { "OpenMoE-Mini", [1, 3] },
        { "OpenMoE-Mini-Dense", [] },
        { "Mixtral-Tiny-Dense", [] },
    };

    [Theory]
    [MemberData(nameof(MoeLayerCases))]
    public void Moe_layers_follow_the_spec_rule(string name, int[] expected)
    {
        var spec = ModelSpecs.Find(name);

        Assert.Equal(expected, spec.Config.MoeLayers);
        var routers = spec.Parameters.Where(p => p.Role == ParameterRole.Router).Select(p => p.Layer);
        Assert.Equal(expected, routers);
    }

    [Fact]
    public void Every_parameter_table_sums_to_the_total_and_has_unique_names()
    {
        foreach (var spec in ModelSpecs.All)
        {
            Assert.Equal(spec.TotalParams, spec.Parameters.Sum(p => p.Elements));
            Assert.Equal(spec.Parameters.Length, spec.Parameters.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count());
        }
    }

    [Fact]
    public void Activated_counts_match_a_recount_from_the_parameter_table()
    {
        foreach (var spec in ModelSpecs.All)
        {
            var c = spec.Config;
            double activated = 0;
            foreach (var p in spec.Parameters.Where(p => p.Role is not (ParameterRole.Embedding or ParameterRole.LmHead)))
            {
                var isExpert = p.Role is ParameterRole.ExpertGate or ParameterRole.ExpertUp or ParameterRole.ExpertDown;
                // A token uses K of the E experts: K/E of a stacked tensor, or each per-expert tensor with weight K/E.
                activated += isExpert ? p.Elements * (double)c.TopK / c.Experts : p.Elements;
            }
            Assert.Equal(spec.ActivatedParams, (long)Math.Round(activated));
            var embeddings = spec.Parameters.Where(p => p.Role is ParameterRole.Embedding or ParameterRole.LmHead).Sum(p => p.Elements);
            Assert.Equal(spec.ActivatedParams + embeddings, spec.ActivatedParamsWithEmbeddings);
        }
    }

    [Fact]
    public void Parameter_names_and_shapes_follow_each_family_checkpoint_layout()
    {
        AssertTensor("OpenMoE-Base/16E", "model.layers.3.mlp.experts.wi_gate", [16, 768, 4096], ParameterRole.ExpertGate, -1);
        AssertTensor("OpenMoE-Base/16E", "model.layers.3.mlp.experts.wo", [16, 2048, 768], ParameterRole.ExpertDown, -1);
        AssertTensor("OpenMoE-Base/16E", "model.layers.3.mlp.gate_weight", [16, 768], ParameterRole.Router, -1);
        AssertTensor("OpenMoE-Base/16E", "model.layers.3.extra_mlp.gate_proj.weight", [4096, 768], ParameterRole.ExtraGate, -1);
        AssertTensor("OpenMoE-Base/16E", "model.layers.3.pre_extra_mlp_layernorm.weight", [768], ParameterRole.ExtraNorm, -1);
        AssertTensor("OpenMoE-Base/16E", "model.layers.0.mlp.gate_proj.weight", [4096, 768], ParameterRole.DenseGate, -1);
        AssertTensor("OpenMoE-Base/16E", "lm_head.weight", [256_384, 768], ParameterRole.LmHead, -1);
        AssertTensor("OpenMoE-8B/32E", "model.layers.0.self_attn.q_proj.weight", [3072, 2048], ParameterRole.Query, -1);
        AssertTensor("OpenMoE-8B/32E", "model.layers.0.self_attn.o_proj.weight", [2048, 3072], ParameterRole.AttentionOutput, -1);
        AssertTensor("Mixtral-8x7B", "model.layers.31.block_sparse_moe.experts.7.w2.weight", [4096, 14_336], ParameterRole.ExpertDown, 7);
        AssertTensor("Mixtral-8x7B", "model.layers.0.block_sparse_moe.experts.0.w1.weight", [14_336, 4096], ParameterRole.ExpertGate, 0);
        AssertTensor("Mixtral-8x7B", "model.layers.0.block_sparse_moe.gate.weight", [8, 4096], ParameterRole.Router, -1);
        AssertTensor("Mixtral-8x7B", "model.layers.0.self_attn.k_proj.weight", [1024, 4096], ParameterRole.Key, -1);
        AssertTensor("DeepSeekMoE-16B", "model.layers.0.mlp.gate_proj.weight", [10_944, 2048], ParameterRole.DenseGate, -1);
        AssertTensor("DeepSeekMoE-16B", "model.layers.1.mlp.gate.weight", [64, 2048], ParameterRole.Router, -1);
        AssertTensor("DeepSeekMoE-16B", "model.layers.27.mlp.experts.63.down_proj.weight", [2048, 1408], ParameterRole.ExpertDown, 63);
        AssertTensor("DeepSeekMoE-16B", "model.layers.1.mlp.shared_experts.gate_proj.weight", [2816, 2048], ParameterRole.SharedGate, -1);
        AssertTensor("DeepSeekMoE-16B", "model.layers.1.mlp.shared_experts.down_proj.weight", [2048, 2816], ParameterRole.SharedDown, -1);
        Assert.DoesNotContain(ModelSpecs.Find("Mixtral-8x7B").Parameters, p => p.Name.Contains("mlp.", StringComparison.Ordinal));
    }

    [Fact]
    public void Tiny_specs_have_the_sizes_other_areas_test_with()
    {
        var tiny = OpenMoETiny.Config;
        Assert.Equal((512, 64, 4, 4, 16, 128, 4, 8, 2, 256), (tiny.Vocab, tiny.Hidden, tiny.Heads, tiny.KvHeads, tiny.HeadDim, tiny.Ffn, tiny.Layers, tiny.Experts, tiny.TopK, tiny.ContextLength));
        Assert.Equal((SharedExpertKind.SequentialExtraFfn, CapacityRule.T5x, AttentionScale.None), (tiny.SharedExpertKind, tiny.CapacityRule, tiny.AttentionScale));
        var mixtral = MixtralTiny.Config;
        Assert.Equal((2, FfnKind.SwiGlu, Gating.RenormalizedTopK, CapacityRule.Dropless, SharedExpertKind.None), (mixtral.KvHeads, mixtral.FfnKind, mixtral.Gating, mixtral.CapacityRule, mixtral.SharedExpertKind));
        var deepSeek = DeepSeekMoETiny.Config;
        Assert.Equal((16, 4, 32, SharedExpertKind.ParallelShared, 2, 32), (deepSeek.Experts, deepSeek.TopK, deepSeek.ExpertFfn, deepSeek.SharedExpertKind, deepSeek.SharedExperts, deepSeek.SharedExpertFfn));
    }

    private static void AssertTensor(string spec, string name, long[] shape, ParameterRole role, int expert)
    {
        var tensor = Assert.Single(ModelSpecs.Find(spec).Parameters, p => p.Name == name);
        Assert.Equal(shape, tensor.Shape);
        Assert.Equal(role, tensor.Role);
        Assert.Equal(expert, tensor.Expert);
    }
}
