namespace OpenMoE.Model.Specs.Shipped;

/// <summary>OpenMoE-34B/32E as released (DESIGN §2.2).</summary>
[ModelSpec("OpenMoE-34B/32E",
    Vocab = 256_384, Hidden = 3072, Heads = 24, HeadDim = 128, Layers = 32, Ffn = 12288,
    MoeLayerParameter = 4, Experts = 32, TopK = 2)]
[PaperFigures(34_000_000_000, 6_000_000_000, "OpenMoE paper (Xue et al., 2024), model table")]
public sealed partial class OpenMoE34B32E;
