namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// The reproduction's size: OpenMoE-Tiny's layout (MoE layers 1 and 3, 8 experts top-2, extra FFN) with a
/// vocabulary that holds the GPT-2 / r50k BPE (50,360 ids, padded to a multiple of 128 as OpenMoE pads umT5's).
/// </summary>
[ModelSpec("OpenMoE-Mini",
    Vocab = 50_432, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, ContextLength = 256, Ffn = 128,
    MoeLayerParameter = 2, Experts = 8, TopK = 2)]
public sealed partial class OpenMoEMini;
