namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// Mixtral-8x7B layout (Hugging Face config): SwiGLU experts in every layer, renormalised top-2,
/// grouped-query attention with 8 key/value heads, no capacity limit.
/// </summary>
[ModelSpec("Mixtral-8x7B",
    Vocab = 32_000, Hidden = 4096, Heads = 32, KvHeads = 8, HeadDim = 128, Layers = 32,
    ContextLength = 32_768, NormEps = 1e-5, RopeTheta = 1e6, AttentionScale = AttentionScale.InverseSqrtHeadDim,
    FfnKind = FfnKind.SwiGlu, Ffn = 14_336, MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 0,
    Experts = 8, TopK = 2, SharedExpertKind = SharedExpertKind.None, Gating = Gating.RenormalizedTopK,
    CapacityRule = CapacityRule.Dropless)]
[PaperFigures(46_700_000_000, 12_900_000_000, "Mistral AI, Mixtral of experts (2023): 46.7B total, 12.9B per token")]
public sealed partial class Mixtral8x7B;
