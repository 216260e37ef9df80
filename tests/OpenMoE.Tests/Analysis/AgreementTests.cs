using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class AgreementTests
{
    private static RoutingBatch Batch(params int[] top1) => RoutingBatch.Synthetic([1, 2, 3, 4], 4, SyntheticTraces.Top1(4, top1));

    [Fact]
    public void Agreement_with_the_final_checkpoint_and_chance_match_hand_computed_values()
    {
        var agreement = new AgreementAccumulator([1], 4);
        agreement.Add(Batch(0, 1, 1, 1), Batch(0, 0, 1, 1));   // 3 of 4 agree
        agreement.Add(Batch(2, 2, 0, 0), Batch(2, 2, 3, 3));   // 2 of 4 agree

        var point = Assert.Single(agreement.Results(0, new ModelLabel("early", 10), _ => 0.5));
        Assert.Equal(5.0 / 8, point.Agreement, 12);
        // mine: e0 3/8, e1 3/8, e2 2/8, e3 0; final: 2/8 each. chance = (3+3+2+0)/8 * 2/8 = 0.25.
        Assert.Equal(0.25, point.Chance, 12);
        Assert.Equal(10L, point.Step);
        Assert.Equal(5.0 / 8, point.TopKOverlap, 12);   // with K = 1 the set overlap is the top-1 agreement
    }

    [Fact]
    public void Top_k_set_overlap_counts_shared_experts_in_any_rank()
    {
        // K = 2. Token 0: {0,1} vs {1,0}: 2 shared. Token 1: {2,3} vs {3,0}: 1. Token 2: {0,1} vs {2,3}: 0.
        var mine = RoutingBatch.Synthetic([5, 6, 7], 3, SyntheticTraces.TopK(4, 2, [0, 1, 2, 3, 0, 1]));
        var final = RoutingBatch.Synthetic([5, 6, 7], 3, SyntheticTraces.TopK(4, 2, [1, 0, 3, 0, 2, 3]));
        var agreement = new AgreementAccumulator([1], 4);
        agreement.Add(mine, final);

        Assert.Equal(3.0 / 6, agreement.TopKOverlap(0), 12);
        Assert.Equal(0.0, agreement.Agreement(0), 12);   // top-1: 0 vs 1, 2 vs 3, 0 vs 2
    }

    [Fact]
    public void Token_id_agreement_compares_each_ids_most_frequent_top1_expert()
    {
        // Token 7: 3x expert 2, 1x expert 0 -> 2. Token 8: 2x expert 1, 2x expert 3 -> 1 (tie: lower index). Token 9: once.
        var counts = new TokenSpecializationAccumulator([1], 4, 1, 9);
        counts.Add(RoutingBatch.Synthetic([7, 7, 7, 7, 8, 8, 8, 8, 9], 9, SyntheticTraces.Top1(4, 2, 0, 2, 2, 3, 1, 3, 1, 0)));
        var mine = counts.MostFrequentTop1(0, minCount: 2);
        Assert.Equal(new Dictionary<int, int> { [7] = 2, [8] = 1 }, mine);

        var final = new Dictionary<int, int> { [7] = 2, [8] = 3, [10] = 0 };
        Assert.Equal(1.0 / 3, AgreementAccumulator.TokenIdAgreement(mine, final), 12);   // only 7 agrees; 10 is unseen here
    }

    [Fact]
    public void Different_tokens_between_passes_are_an_error()
    {
        var other = RoutingBatch.Synthetic([9, 9, 9, 9], 4, SyntheticTraces.Top1(4, 0, 0, 0, 0));
        var error = Assert.Throws<InvalidOperationException>(() => new AgreementAccumulator([1], 4).Add(other, Batch(0, 0, 0, 0)));
        Assert.Contains("data differs", error.Message);
    }
}
