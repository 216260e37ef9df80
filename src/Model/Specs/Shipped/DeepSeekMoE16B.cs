namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// DeepSeekMoE-16B layout (Hugging Face config): layer 0 dense, then 64 fine-grained routed
/// experts (top-6) next to 2 parallel shared experts, raw softmax weights, no capacity limit.
/// </summary>
[ModelSpec("DeepSeekMoE-16B",
    Vocab = 102_400, Hidden = 2048, Heads = 16, HeadDim = 128, Layers = 28, ContextLength = 4096,
    AttentionScale = AttentionScale.InverseSqrtHeadDim, FfnKind = FfnKind.SwiGlu, Ffn = 10_944,
    MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 1, Experts = 64, TopK = 6, ExpertFfn = 1408,
    SharedExpertKind = SharedExpertKind.ParallelShared, SharedExperts = 2, SharedExpertFfn = 1408,
    CapacityRule = CapacityRule.Dropless)]
[PaperFigures(16_400_000_000, 2_800_000_000, "DeepSeekMoE paper (Dai et al., 2024): 16.4B total, 2.8B activated")]
public sealed partial class DeepSeekMoE16B;
