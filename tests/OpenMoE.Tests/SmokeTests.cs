using OpenMoE.Model.Specs;

namespace OpenMoE.Tests;

public class SmokeTests
{
    [Fact]
    public void Every_fourth_layer_is_moe_under_the_openmoe_rule()
    {
        var config = new ModelConfig
        {
            Name = "t", Vocab = 8, Hidden = 4, Heads = 1, KvHeads = 1, HeadDim = 4, Layers = 12,
            ContextLength = 8, NormEps = 1e-6, RopeTheta = 1e4, AttentionScale = AttentionScale.None,
            TiedEmbeddings = false, FfnKind = FfnKind.OpenMoEGated, Ffn = 8,
            MoeLayerRule = MoeLayerRule.EveryN, MoeLayerParameter = 4, Experts = 2, TopK = 1,
            ExpertFfn = 8, SharedExpertKind = SharedExpertKind.None, SharedExperts = 0,
            SharedExpertFfn = 0, Gating = Gating.RawSoftmax, CapacityRule = CapacityRule.T5x,
            TrainCapacityFactor = 1.25, EvalCapacityFactor = 2.0, MinCapacity = 4,
        };
        Assert.Equal(new[] { 3, 7, 11 }, config.MoeLayers);
    }
}
