namespace OpenMoE.Tests.Reference;

public class ReferenceWeightsTests
{
    [Fact]
    public void OpenMoE_Base_shape_table_sums_to_the_hand_computed_parameter_count()
    {
        var config = ReferenceConfigs.OpenMoEBase();
        long V = 256384, D = 768, H = 12, hd = 64, F = 2048, E = 16;
        long attention = 3 * (H * hd * D) + D * (H * hd);        // q, k, v [H*hd, D]; o [D, H*hd]
        long norms = 2 * D;                                      // input + post-attention
        long gatedFfn = 2 * F * D + F * D + D * F;               // gate [2F, D], up [F, D], down [D, F]
        long denseLayer = attention + norms + gatedFfn;          // 2,359,296 + 1,536 + 6,291,456 = 8,652,288
        long moeLayer = attention + norms
            + E * D                                              // router [E, D]
            + E * (D * 2 * F + D * F + F * D)                    // wi_gate, wi_up, wo
            + D + gatedFfn;                                      // pre-extra norm + extra FFN: 109,328,640
        long total = V * D                                       // embedding
            + 9 * denseLayer + 3 * moeLayer                      // layers 3, 7, 11 are MoE
            + D                                                  // final norm
            + V * D;                                             // untied LM head
        Assert.Equal(799_663_104L, total);
        Assert.Equal(total, ReferenceParameterTable.TotalCount(config));
    }

    [Fact]
    public void OpenMoE_names_and_shapes_follow_the_Hugging_Face_layout()
    {
        var table = ReferenceParameterTable.For(ReferenceConfigs.OpenMoEBase()).ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal([256384, 768], table["model.embed_tokens.weight"]);
        Assert.Equal([256384, 768], table["lm_head.weight"]);
        Assert.Equal([768], table["model.norm.weight"]);
        Assert.Equal([768, 768], table["model.layers.0.self_attn.o_proj.weight"]);
        Assert.Equal([4096, 768], table["model.layers.0.mlp.gate_proj.weight"]);
        Assert.Equal([768, 2048], table["model.layers.0.mlp.down_proj.weight"]);
        Assert.Equal([16, 768], table["model.layers.3.mlp.gate_weight"]);
        Assert.Equal([16, 768, 4096], table["model.layers.3.mlp.experts.wi_gate"]);
        Assert.Equal([16, 768, 2048], table["model.layers.3.mlp.experts.wi_up"]);
        Assert.Equal([16, 2048, 768], table["model.layers.3.mlp.experts.wo"]);
        Assert.Equal([768], table["model.layers.11.pre_extra_mlp_layernorm.weight"]);
        Assert.Equal([4096, 768], table["model.layers.11.extra_mlp.gate_proj.weight"]);
        Assert.False(table.ContainsKey("model.layers.3.mlp.gate_proj.weight"));
        Assert.False(table.ContainsKey("model.layers.2.extra_mlp.up_proj.weight"));
    }

    [Fact]
    public void Mixtral_and_DeepSeekMoE_names_and_shapes_follow_their_hub_layouts()
    {
        var mixtral = ReferenceParameterTable.For(ReferenceConfigs.TinyMixtral()).ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal([16, 32], mixtral["model.layers.0.self_attn.k_proj.weight"]); // GQA: kv 2 * hd 8
        Assert.Equal([4, 32], mixtral["model.layers.0.block_sparse_moe.gate.weight"]);
        Assert.Equal([48, 32], mixtral["model.layers.1.block_sparse_moe.experts.3.w1.weight"]);
        Assert.Equal([48, 32], mixtral["model.layers.1.block_sparse_moe.experts.3.w3.weight"]);
        Assert.Equal([32, 48], mixtral["model.layers.1.block_sparse_moe.experts.3.w2.weight"]);

        var deepSeek = ReferenceParameterTable.For(ReferenceConfigs.TinyDeepSeekMoE()).ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal([64, 32], deepSeek["model.layers.0.mlp.gate_proj.weight"]);
        Assert.False(deepSeek.ContainsKey("model.layers.0.mlp.gate.weight"));
        Assert.Equal([8, 32], deepSeek["model.layers.1.mlp.gate.weight"]);
        Assert.Equal([16, 32], deepSeek["model.layers.2.mlp.experts.7.gate_proj.weight"]);
        Assert.Equal([32, 16], deepSeek["model.layers.2.mlp.experts.7.down_proj.weight"]);
        Assert.Equal([32, 32], deepSeek["model.layers.1.mlp.shared_experts.up_proj.weight"]); // 2 shared * 16
    }

    [Fact]
    public void Random_weights_are_reproducible_from_the_seed_and_exact_in_float()
    {
        var config = ReferenceConfigs.TinyMixtral();
        var first = ReferenceWeights.Random(config, seed: 7);
        var again = ReferenceWeights.Random(config, seed: 7);
        var other = ReferenceWeights.Random(config, seed: 8);
        foreach (var (name, tensor) in first.Tensors)
        {
            Assert.Equal(tensor.Data, again[name].Data);
            Assert.Equal(tensor.Data, first.ToFloats(name).Select(value => (double)value)); // float-exact
        }
        Assert.NotEqual(first[ReferenceNames.Embedding].Data, other[ReferenceNames.Embedding].Data);
        Assert.All(first[ReferenceNames.FinalNorm].Data, value => Assert.Equal(1.0, value));
    }

    [Fact]
    public void FromTensors_rejects_a_wrong_shape_naming_the_tensor()
    {
        var config = ReferenceConfigs.TinyMixtral();
        var tensors = ReferenceWeights.Random(config, seed: 1).Tensors.ToDictionary(p => p.Key, p => p.Value);
        tensors[ReferenceNames.LmHead] = new ReferenceTensor([config.Vocab, config.Hidden + 1]);
        var error = Assert.Throws<ArgumentException>(() => ReferenceWeights.FromTensors(config, tensors));
        Assert.Contains(ReferenceNames.LmHead, error.Message);
    }
}
