namespace OpenMoE.Model.Specs.Shipped;

/// <summary>Debug size of the Mixtral family: SwiGLU, GQA (kv 2), every layer MoE, renormalised top-2, dropless.</summary>
[ModelSpec("Mixtral-Tiny",
    Vocab = 512, Hidden = 64, Heads = 4, KvHeads = 2, HeadDim = 16, Layers = 4, ContextLength = 256,
    NormEps = 1e-5, RopeTheta = 1e6, AttentionScale = AttentionScale.InverseSqrtHeadDim,
    FfnKind = FfnKind.SwiGlu, Ffn = 128, MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 0,
    Experts = 8, TopK = 2, SharedExpertKind = SharedExpertKind.None, Gating = Gating.RenormalizedTopK,
    CapacityRule = CapacityRule.Dropless)]
public sealed partial class MixtralTiny;
