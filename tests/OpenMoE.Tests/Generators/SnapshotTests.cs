namespace OpenMoE.Tests.Generators;

/// <summary>The exact generated source, one scenario per model family (files in Snapshots/).</summary>
public class SnapshotTests
{
    [Fact]
    public void OpenMoE_family_spec_generates_the_committed_source()
    {
        var (_, result) = GeneratorHarness.Run(GeneratorHarness.Spec(
            attributes: "[PaperFigures(1_000_000, 250_000, \"made-up figures for the snapshot\")]"));

        Assert.Empty(result.Diagnostics);
        Snapshot.Verify("OpenMoEFamily", result);
    }

    [Fact]
    public void Mixtral_family_spec_generates_the_committed_source()
    {
        var (_, result) = GeneratorHarness.Run("""
            using OpenMoE.Model.Specs;

            namespace Demo.Mixtral;

            [ModelSpec("Mixtral-Snapshot", Vocab = 256, Hidden = 32, Heads = 4, KvHeads = 2, HeadDim = 8, Layers = 2,
                ContextLength = 64, NormEps = 1e-5, RopeTheta = 1e6, AttentionScale = AttentionScale.InverseSqrtHeadDim,
                FfnKind = FfnKind.SwiGlu, Ffn = 48, MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 0,
                Experts = 4, TopK = 2, SharedExpertKind = SharedExpertKind.None, Gating = Gating.RenormalizedTopK,
                CapacityRule = CapacityRule.Dropless)]
            internal sealed partial class MixtralSnapshot;
            """);

        Assert.Empty(result.Diagnostics);
        Snapshot.Verify("MixtralFamily", result);
    }

    [Fact]
    public void DeepSeek_family_spec_in_the_global_namespace_generates_the_committed_source()
    {
        var (_, result) = GeneratorHarness.Run("""
            using OpenMoE.Model.Specs;

            [ModelSpec("DeepSeek-Snapshot", Vocab = 256, Hidden = 32, Heads = 4, HeadDim = 8, Layers = 3,
                ContextLength = 64, AttentionScale = AttentionScale.InverseSqrtHeadDim, FfnKind = FfnKind.SwiGlu,
                Ffn = 96, MoeLayerRule = MoeLayerRule.FirstKDense, MoeLayerParameter = 1, Experts = 8, TopK = 3,
                ExpertFfn = 16, SharedExpertKind = SharedExpertKind.ParallelShared, SharedExperts = 2,
                CapacityRule = CapacityRule.Dropless, TiedEmbeddings = true)]
            public partial class DeepSeekSnapshot;
            """);

        Assert.Empty(result.Diagnostics);
        Snapshot.Verify("DeepSeekFamily", result);
    }
}
