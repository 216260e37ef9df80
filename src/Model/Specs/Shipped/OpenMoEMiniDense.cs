namespace OpenMoE.Model.Specs.Shipped;

/// <summary>OpenMoE-Mini's dense counterpart: the same sizes, every layer one gated FFN, for the dense stage of upcycling.</summary>
[ModelSpec("OpenMoE-Mini-Dense",
    Vocab = 50_432, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, ContextLength = 256, Ffn = 128,
    MoeLayerRule = MoeLayerRule.Dense, Experts = 1, TopK = 1, SharedExpertKind = SharedExpertKind.None)]
public sealed partial class OpenMoEMiniDense;
