using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>Configs the reference tests build by hand (independent of the generator's specs).</summary>
public static class ReferenceConfigs
{
    /// <summary>Tiny OpenMoE: V 512, D 64, H 4 (kv 4), hd 16, F 128, 4 layers, MoE every 2 (layers 1, 3), 8 experts, top-2, extra FFN.</summary>
    public static ModelConfig TinyOpenMoE() => new()
    {
        Name = "Reference-Tiny-OpenMoE", Vocab = 512, Hidden = 64, Heads = 4, KvHeads = 4, HeadDim = 16, Layers = 4,
        ContextLength = 128, NormEps = 1e-6, RopeTheta = 10000, AttentionScale = AttentionScale.None,
        TiedEmbeddings = false, FfnKind = FfnKind.OpenMoEGated, Ffn = 128,
        MoeLayerRule = MoeLayerRule.EveryN, MoeLayerParameter = 2, Experts = 8, TopK = 2, ExpertFfn = 128,
        SharedExpertKind = SharedExpertKind.SequentialExtraFfn, SharedExperts = 1, SharedExpertFfn = 128,
        Gating = Gating.RawSoftmax, CapacityRule = CapacityRule.T5x,
        TrainCapacityFactor = 1.25, EvalCapacityFactor = 2.0, MinCapacity = 4,
    };

    /// <summary>OpenMoE-Base/16E dimensions from the released config (DESIGN §2.2).</summary>
    public static ModelConfig OpenMoEBase() => TinyOpenMoE() with
    {
        Name = "OpenMoE-Base/16E", Vocab = 256384, Hidden = 768, Heads = 12, KvHeads = 12, HeadDim = 64, Layers = 12,
        ContextLength = 2048, Ffn = 2048, MoeLayerParameter = 4, Experts = 16, ExpertFfn = 2048, SharedExpertFfn = 2048,
    };

    /// <summary>Tiny Mixtral-style: SwiGLU, GQA (4 heads, 2 kv), every layer MoE, 4 experts top-2 renormalised, dropless, scaled logits.</summary>
    public static ModelConfig TinyMixtral() => TinyOpenMoE() with
    {
        Name = "Reference-Tiny-Mixtral", Hidden = 32, Heads = 4, KvHeads = 2, HeadDim = 8, Layers = 2, Ffn = 48,
        AttentionScale = AttentionScale.InverseSqrtHeadDim, FfnKind = FfnKind.SwiGlu,
        MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 0, Experts = 4, ExpertFfn = 48,
        SharedExpertKind = SharedExpertKind.None, SharedExperts = 0, SharedExpertFfn = 0,
        Gating = Gating.RenormalizedTopK, CapacityRule = CapacityRule.Dropless, RopeTheta = 1e6,
    };

    /// <summary>Tiny DeepSeekMoE-style: first layer dense, then MoE with 8 fine-grained experts top-2 and 2 parallel shared experts.</summary>
    public static ModelConfig TinyDeepSeekMoE() => TinyOpenMoE() with
    {
        Name = "Reference-Tiny-DeepSeekMoE", Hidden = 32, Heads = 4, KvHeads = 4, HeadDim = 8, Layers = 3, Ffn = 64,
        AttentionScale = AttentionScale.InverseSqrtHeadDim, FfnKind = FfnKind.SwiGlu,
        MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 1, Experts = 8, ExpertFfn = 16,
        SharedExpertKind = SharedExpertKind.ParallelShared, SharedExperts = 2, SharedExpertFfn = 16,
        Gating = Gating.RawSoftmax, CapacityRule = CapacityRule.Dropless,
    };

    /// <summary>Deterministic random token ids [B][T] in [0, V).</summary>
    public static int[][] RandomTokens(ModelConfig config, int batch, int time, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, time).Select(_ => random.Next(config.Vocab)).ToArray()).ToArray();
    }
}
