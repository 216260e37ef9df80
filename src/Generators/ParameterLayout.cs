using System.Collections.Generic;
using System.Linq;

namespace OpenMoE.Generators;

/// <summary>
/// One tensor, or (when <see cref="PerExpert"/>) one tensor per routed expert named
/// <c>Prefix + j + Suffix</c>. Shapes are as the Hugging Face checkpoint stores them.
/// </summary>
internal sealed record TensorGroup(string Prefix, string Suffix, long[] Shape, int Layer, string Role, bool PerExpert, bool Stacked)
{
    public long ElementsPerTensor => Shape.Aggregate(1L, (product, extent) => product * extent);
}

/// <summary>Exact parameter counts of a spec.</summary>
internal sealed record ParameterCounts(long Total, long Activated, long ActivatedWithEmbeddings);

/// <summary>
/// The checkpoint layout of each model family, tensor by tensor (DESIGN §2.6 for OpenMoE; the
/// standard Hugging Face names for Mixtral and DeepSeekMoE), and the counts derived from it.
/// </summary>
internal static class ParameterLayout
{
    public static List<TensorGroup> Build(SpecModel spec)
    {
        long d = spec.Hidden, f = spec.Ffn, e = spec.Experts, fe = spec.ExpertFfn;
        long q = (long)spec.Heads * spec.HeadDim, kv = (long)spec.KvHeads * spec.HeadDim;
        var openMoE = spec.FfnKind == EnumNames.FfnOpenMoEGated;
        var gateWidth = openMoE ? 2 * f : f;
        var groups = new List<TensorGroup>();
        void Add(string name, int layer, string role, params long[] shape) =>
            groups.Add(new TensorGroup(name, string.Empty, shape, layer, role, PerExpert: false, Stacked: false));
        void AddStacked(string name, int layer, string role, params long[] shape) =>
            groups.Add(new TensorGroup(name, string.Empty, shape, layer, role, PerExpert: false, Stacked: true));
        void AddPerExpert(string prefix, string suffix, int layer, string role, params long[] shape) =>
            groups.Add(new TensorGroup(prefix, suffix, shape, layer, role, PerExpert: true, Stacked: false));

        Add("model.embed_tokens.weight", -1, "Embedding", spec.Vocab, d);
        for (var layer = 0; layer < spec.Layers; layer++)
        {
            var p = "model.layers." + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";
            Add(p + "input_layernorm.weight", layer, "AttentionNorm", d);
            Add(p + "self_attn.q_proj.weight", layer, "Query", q, d);
            Add(p + "self_attn.k_proj.weight", layer, "Key", kv, d);
            Add(p + "self_attn.v_proj.weight", layer, "Value", kv, d);
            Add(p + "self_attn.o_proj.weight", layer, "AttentionOutput", d, q);
            Add(p + "post_attention_layernorm.weight", layer, "FfnNorm", d);
            if (!spec.IsMoeLayer(layer))
            {
                Add(p + "mlp.gate_proj.weight", layer, "DenseGate", gateWidth, d);
                Add(p + "mlp.up_proj.weight", layer, "DenseUp", f, d);
                Add(p + "mlp.down_proj.weight", layer, "DenseDown", d, f);
            }
            else if (openMoE)
            {
                Add(p + "mlp.gate_weight", layer, "Router", e, d);
                AddStacked(p + "mlp.experts.wi_gate", layer, "ExpertGate", e, d, 2 * fe);
                AddStacked(p + "mlp.experts.wi_up", layer, "ExpertUp", e, d, fe);
                AddStacked(p + "mlp.experts.wo", layer, "ExpertDown", e, fe, d);
                if (spec.SharedExpertKind == EnumNames.SharedSequentialExtraFfn)
                {
                    long fs = spec.SharedExpertFfn;
                    Add(p + "pre_extra_mlp_layernorm.weight", layer, "ExtraNorm", d);
                    Add(p + "extra_mlp.gate_proj.weight", layer, "ExtraGate", 2 * fs, d);
                    Add(p + "extra_mlp.up_proj.weight", layer, "ExtraUp", fs, d);
                    Add(p + "extra_mlp.down_proj.weight", layer, "ExtraDown", d, fs);
                }
            }
            else if (spec.SharedExpertKind == EnumNames.SharedParallel)
            {
                long shared = (long)spec.SharedExperts * spec.SharedExpertFfn;
                Add(p + "mlp.gate.weight", layer, "Router", e, d);
                AddPerExpert(p + "mlp.experts.", ".gate_proj.weight", layer, "ExpertGate", fe, d);
                AddPerExpert(p + "mlp.experts.", ".up_proj.weight", layer, "ExpertUp", fe, d);
                AddPerExpert(p + "mlp.experts.", ".down_proj.weight", layer, "ExpertDown", d, fe);
                Add(p + "mlp.shared_experts.gate_proj.weight", layer, "SharedGate", shared, d);
                Add(p + "mlp.shared_experts.up_proj.weight", layer, "SharedUp", shared, d);
                Add(p + "mlp.shared_experts.down_proj.weight", layer, "SharedDown", d, shared);
            }
            else
            {
                Add(p + "block_sparse_moe.gate.weight", layer, "Router", e, d);
                AddPerExpert(p + "block_sparse_moe.experts.", ".w1.weight", layer, "ExpertGate", fe, d);
                AddPerExpert(p + "block_sparse_moe.experts.", ".w2.weight", layer, "ExpertDown", d, fe);
                AddPerExpert(p + "block_sparse_moe.experts.", ".w3.weight", layer, "ExpertUp", fe, d);
            }
        }
        Add("model.norm.weight", -1, "FinalNorm", d);
        if (!spec.TiedEmbeddings)
        {
            Add("lm_head.weight", -1, "LmHead", spec.Vocab, d);
        }
        return groups;
    }

    /// <summary>
    /// Total counts every tensor. Activated counts what one token uses: every non-expert tensor and
    /// TopK experts' share of each expert tensor, without the embedding and LM head.
    /// </summary>
    public static ParameterCounts Count(SpecModel spec, IReadOnlyList<TensorGroup> groups)
    {
        long total = 0, activated = 0, embeddings = 0;
        foreach (var group in groups)
        {
            var tensors = group.PerExpert ? spec.Experts : 1;
            total += group.ElementsPerTensor * tensors;
            if (group.Role is "Embedding" or "LmHead")
            {
                embeddings += group.ElementsPerTensor;
            }
            else if (group.PerExpert)
            {
                activated += group.ElementsPerTensor * spec.TopK;
            }
            else if (group.Stacked)
            {
                activated += group.ElementsPerTensor / spec.Experts * spec.TopK;
            }
            else
            {
                activated += group.ElementsPerTensor;
            }
        }
        return new ParameterCounts(total, activated, activated + embeddings);
    }
}
