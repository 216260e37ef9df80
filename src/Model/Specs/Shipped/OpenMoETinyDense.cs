namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// OpenMoE-Tiny's dense counterpart for upcycling: the same sizes, every layer one gated FFN of width
/// 128 and no extra FFN; <c>openmoe upcycle --spec OpenMoE-Tiny</c> turns its FFNs into the experts.
/// </summary>
[ModelSpec("OpenMoE-Tiny-Dense",
    Vocab = 512, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, ContextLength = 256, Ffn = 128,
    MoeLayerRule = MoeLayerRule.Dense, Experts = 1, TopK = 1, SharedExpertKind = SharedExpertKind.None)]
public sealed partial class OpenMoETinyDense;
