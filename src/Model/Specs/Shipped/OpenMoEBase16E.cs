namespace OpenMoE.Model.Specs.Shipped;

/// <summary>OpenMoE-Base/16E as released (DESIGN §2.2): F = 2048, not the paper table's 3072.</summary>
[ModelSpec("OpenMoE-Base/16E",
    Vocab = 256_384, Hidden = 768, Heads = 12, HeadDim = 64, Layers = 12, Ffn = 2048,
    MoeLayerParameter = 4, Experts = 16, TopK = 2)]
[PaperFigures(650_000_000, 142_000_000, "OpenMoE paper (Xue et al., 2024), model table")]
public sealed partial class OpenMoEBase16E;
