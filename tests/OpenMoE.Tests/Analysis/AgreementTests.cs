using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class AgreementTests
{
    private static RoutingBatch Batch(params int[] top1) => RoutingBatch.Synthetic([1, 2, 3, 4], 4, SyntheticTraces.Top1(4, top1));

    [Fact]
    public void Agreement_with_the_final_checkpoint_and_chance_match_hand_computed_values()
    {
        using var store = new Top1Store();
        store.Write(Batch(0, 0, 1, 1));
        store.Write(Batch(2, 2, 3, 3));
        store.StartReading();
        var agreement = new AgreementAccumulator([1], 4);
        agreement.Add(Batch(0, 1, 1, 1), store.ReadNext(Batch(0, 1, 1, 1)));   // 3 of 4 agree
        agreement.Add(Batch(2, 2, 0, 0), store.ReadNext(Batch(2, 2, 0, 0)));   // 2 of 4 agree

        var point = Assert.Single(agreement.Results(0, new ModelLabel("early", 10), _ => 0.5));
        Assert.Equal(5.0 / 8, point.Agreement, 12);
        // mine: e0 3/8, e1 3/8, e2 2/8, e3 0; final: 2/8 each. chance = (3+3+2+0)/8 * 2/8 = 0.25.
        Assert.Equal(0.25, point.Chance, 12);
        Assert.Equal(10L, point.Step);
    }

    [Fact]
    public void Identical_routing_agrees_everywhere_and_the_store_rewinds()
    {
        using var store = new Top1Store();
        store.Write(Batch(3, 1, 2, 0));
        for (int pass = 0; pass < 2; pass++)
        {
            store.StartReading();
            var agreement = new AgreementAccumulator([1], 4);
            agreement.Add(Batch(3, 1, 2, 0), store.ReadNext(Batch(3, 1, 2, 0)));
            Assert.Equal(1.0, agreement.Results(0, new ModelLabel("same", null), _ => 1).Single().Agreement, 12);
        }
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
        using var store = new Top1Store();
        store.Write(Batch(0, 0, 0, 0));
        store.StartReading();
        var other = RoutingBatch.Synthetic([9, 9, 9, 9], 4, SyntheticTraces.Top1(4, 0, 0, 0, 0));
        var error = Assert.Throws<InvalidOperationException>(() => store.ReadNext(other));
        Assert.Contains("data differs", error.Message);
    }
}
