namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// Mixtral-Tiny's dense counterpart (a Mistral-style model, as Mixtral was upcycled from one): the
/// same sizes, every layer one SwiGLU FFN of width 128.
/// </summary>
[ModelSpec("Mixtral-Tiny-Dense",
    Vocab = 512, Hidden = 64, Heads = 4, KvHeads = 2, HeadDim = 16, Layers = 4, ContextLength = 256,
    NormEps = 1e-5, RopeTheta = 1e6, AttentionScale = AttentionScale.InverseSqrtHeadDim,
    FfnKind = FfnKind.SwiGlu, Ffn = 128, MoeLayerRule = MoeLayerRule.Dense, Experts = 1, TopK = 1,
    SharedExpertKind = SharedExpertKind.None)]
public sealed partial class MixtralTinyDense;
