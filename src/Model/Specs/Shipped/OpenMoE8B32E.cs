namespace OpenMoE.Model.Specs.Shipped;

/// <summary>OpenMoE-8B/32E as released (DESIGN §2.2): hidden 2048 differs from heads*head_dim = 3072.</summary>
[ModelSpec("OpenMoE-8B/32E",
    Vocab = 256_384, Hidden = 2048, Heads = 24, HeadDim = 128, Layers = 24, Ffn = 8192,
    MoeLayerParameter = 6, Experts = 32, TopK = 2)]
[PaperFigures(8_700_000_000, 2_100_000_000, "OpenMoE paper (Xue et al., 2024), model table")]
public sealed partial class OpenMoE8B32E;
