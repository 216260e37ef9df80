namespace OpenMoE.Model.Specs.Shipped;

/// <summary>
/// Debug size of the DeepSeekMoE family: layer 0 dense (F 128), then 16 fine-grained experts of
/// width 32 (top-4) next to 2 parallel shared experts of width 32, dropless.
/// </summary>
[ModelSpec("DeepSeekMoE-Tiny",
    Vocab = 512, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, ContextLength = 256,
    AttentionScale = AttentionScale.InverseSqrtHeadDim, FfnKind = FfnKind.SwiGlu, Ffn = 128,
    MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 1, Experts = 16, TopK = 4, ExpertFfn = 32,
    SharedExpertKind = SharedExpertKind.ParallelShared, SharedExperts = 2, SharedExpertFfn = 32,
    CapacityRule = CapacityRule.Dropless)]
public sealed partial class DeepSeekMoETiny;
