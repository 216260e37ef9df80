using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Bench.Checkpoints;

/// <summary>
/// The OpenMoE tensor list with Hugging Face names (DESIGN §2.6) for given dimensions, fp32.
/// The bench builds it itself so it runs without the model layer; --base gives OpenMoE-Base/16E.
/// </summary>
internal static class BenchLayout
{
    public static List<TensorDescriptor> Build(int vocab, int hidden, int ffn, int heads, int headDim, int layers, int moeInterval, int experts)
    {
        var f32 = TensorDType.F32;
        var qkv = heads * headDim;
        var list = new List<TensorDescriptor> { new("model.embed_tokens.weight", f32, vocab, hidden) };
        for (var i = 0; i < layers; i++)
        {
            var p = $"model.layers.{i}";
            list.Add(new($"{p}.input_layernorm.weight", f32, hidden));
            list.Add(new($"{p}.post_attention_layernorm.weight", f32, hidden));
            foreach (var proj in new[] { "q", "k", "v" }) list.Add(new($"{p}.self_attn.{proj}_proj.weight", f32, qkv, hidden));
            list.Add(new($"{p}.self_attn.o_proj.weight", f32, hidden, qkv));
            if ((i + 1) % moeInterval == 0)
            {
                list.Add(new($"{p}.mlp.gate_weight", f32, experts, hidden));
                list.Add(new($"{p}.mlp.experts.wi_gate", f32, experts, hidden, 2 * ffn));
                list.Add(new($"{p}.mlp.experts.wi_up", f32, experts, hidden, ffn));
                list.Add(new($"{p}.mlp.experts.wo", f32, experts, ffn, hidden));
                list.Add(new($"{p}.pre_extra_mlp_layernorm.weight", f32, hidden));
                AddFfn(list, $"{p}.extra_mlp", hidden, ffn);
            }
            else
            {
                AddFfn(list, $"{p}.mlp", hidden, ffn);
            }
        }
        list.Add(new("model.norm.weight", f32, hidden));
        list.Add(new("lm_head.weight", f32, vocab, hidden));
        return list;
    }

    private static void AddFfn(List<TensorDescriptor> list, string prefix, int hidden, int ffn)
    {
        list.Add(new($"{prefix}.gate_proj.weight", TensorDType.F32, 2 * ffn, hidden));
        list.Add(new($"{prefix}.up_proj.weight", TensorDType.F32, ffn, hidden));
        list.Add(new($"{prefix}.down_proj.weight", TensorDType.F32, hidden, ffn));
    }
}
