using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>How a parameter is initialised by <see cref="ReferenceWeights.Random"/>.</summary>
public enum ReferenceInit
{
    /// <summary>All ones (norm weights).</summary>
    Ones,
    /// <summary>Normal(0, Std) (embedding, router).</summary>
    Normal,
    /// <summary>Normal(0, Std) truncated at two standard deviations (projection kernels).</summary>
    TruncatedNormal,
}

/// <summary>One named parameter: its Hugging Face name, shape and initialisation.</summary>
public sealed record ReferenceParameter(string Name, int[] Shape, ReferenceInit Init, double Std)
{
    /// <summary>Number of scalars.</summary>
    public long Count => Shape.Aggregate(1L, (product, size) => product * size);
}

/// <summary>
/// The parameter list of a config, derived here from the config alone (independently of the
/// source generator's table so the two can be cross-checked). Order: embedding, then per layer
/// attention, norms and FFN/MoE tensors, then the final norm and the LM head; random
/// initialisation draws in this order.
/// </summary>
public static class ReferenceParameterTable
{
    /// <summary>Every parameter of <paramref name="config"/> in initialisation order.</summary>
    public static IReadOnlyList<ReferenceParameter> For(ModelConfig config)
    {
        var layout = ReferenceLayouts.Of(config);
        int V = config.Vocab, D = config.Hidden, H = config.Heads, KV = config.KvHeads, hd = config.HeadDim;
        int F = config.Ffn, E = config.Experts, Fe = config.ExpertFfn;
        var list = new List<ReferenceParameter>();

        void Norm(string name) => list.Add(new(name, [D], ReferenceInit.Ones, 0));
        // Variance scaling, scale 0.1, fan-in = the input width (DESIGN §2.5).
        void Kernel(string name, int[] shape, int fanIn, double extra = 1.0) =>
            list.Add(new(name, shape, ReferenceInit.TruncatedNormal, Math.Sqrt(0.1 / fanIn) * extra));
        void GatedFfn(string prefix, int width, bool openMoeGate)
        {
            Kernel($"{prefix}.gate_proj.weight", [openMoeGate ? 2 * width : width, D], D);
            Kernel($"{prefix}.up_proj.weight", [width, D], D);
            Kernel($"{prefix}.down_proj.weight", [D, width], width);
        }

        // Tied: the embedding doubles as the head, so keep logits O(1) instead of the embedding at N(0, 1).
        list.Add(new(ReferenceNames.Embedding, [V, D], ReferenceInit.Normal, config.TiedEmbeddings ? 1.0 / Math.Sqrt(D) : 1.0));
        for (int l = 0; l < config.Layers; l++)
        {
            string P(string suffix) => ReferenceNames.Layer(l, suffix);
            Norm(P("input_layernorm.weight"));
            // Without logit scaling the query initialisation carries 1/sqrt(hd) (DESIGN §2.5).
            double queryExtra = config.AttentionScale == AttentionScale.None ? 1.0 / Math.Sqrt(hd) : 1.0;
            Kernel(P("self_attn.q_proj.weight"), [H * hd, D], D, queryExtra);
            Kernel(P("self_attn.k_proj.weight"), [KV * hd, D], D);
            Kernel(P("self_attn.v_proj.weight"), [KV * hd, D], D);
            Kernel(P("self_attn.o_proj.weight"), [D, H * hd], H * hd);
            Norm(P("post_attention_layernorm.weight"));

            if (!config.IsMoeLayer(l))
            {
                GatedFfn(P("mlp"), F, layout == ReferenceLayout.OpenMoE);
                continue;
            }

            switch (layout)
            {
                case ReferenceLayout.OpenMoE:
                    list.Add(new(P("mlp.gate_weight"), [E, D], ReferenceInit.Normal, 0.02));
                    Kernel(P("mlp.experts.wi_gate"), [E, D, 2 * Fe], D);
                    Kernel(P("mlp.experts.wi_up"), [E, D, Fe], D);
                    Kernel(P("mlp.experts.wo"), [E, Fe, D], Fe);
                    if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
                    {
                        Norm(P("pre_extra_mlp_layernorm.weight"));
                        GatedFfn(P("extra_mlp"), F, openMoeGate: true);
                    }
                    break;
                case ReferenceLayout.Mixtral:
                    list.Add(new(P("block_sparse_moe.gate.weight"), [E, D], ReferenceInit.Normal, 0.02));
                    for (int e = 0; e < E; e++)
                    {
                        Kernel(P($"block_sparse_moe.experts.{e}.w1.weight"), [Fe, D], D);
                        Kernel(P($"block_sparse_moe.experts.{e}.w3.weight"), [Fe, D], D);
                        Kernel(P($"block_sparse_moe.experts.{e}.w2.weight"), [D, Fe], Fe);
                    }
                    break;
                case ReferenceLayout.DeepSeekMoE:
                    list.Add(new(P("mlp.gate.weight"), [E, D], ReferenceInit.Normal, 0.02));
                    for (int e = 0; e < E; e++) GatedFfn(P($"mlp.experts.{e}"), Fe, openMoeGate: false);
                    GatedFfn(P("mlp.shared_experts"), config.SharedExperts * config.SharedExpertFfn, openMoeGate: false);
                    break;
            }
        }
        Norm(ReferenceNames.FinalNorm);
        if (!config.TiedEmbeddings) Kernel(ReferenceNames.LmHead, [V, D], D);
        return list;
    }

    /// <summary>Total number of parameters of <paramref name="config"/>.</summary>
    public static long TotalCount(ModelConfig config) => For(config).Sum(p => p.Count);
}
