namespace OpenMoE.Model.Specs.Shipped;

/// <summary>Debug size with every OpenMoE feature (extra FFN, T5X capacity); MoE layers 1 and 3.</summary>
[ModelSpec("OpenMoE-Tiny",
    Vocab = 512, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, ContextLength = 256, Ffn = 128,
    MoeLayerParameter = 2, Experts = 8, TopK = 2)]
public sealed partial class OpenMoETiny;
