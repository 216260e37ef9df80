using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

/// <summary>Every measure beyond the paper on a trace small enough to compute by hand.</summary>
public class MeasureTests
{
    private static RoutingBatch Row(int[] tokens, LayerRouting layer) => RoutingBatch.Synthetic(tokens, tokens.Length, layer);

    [Fact]
    public void Mutual_information_separates_token_id_position_and_previous_token()
    {
        // Row 0: tokens 1, 2 -> experts 0, 1. Row 1: tokens 2, 1 -> experts 1, 0.
        // The token id decides the expert; position 0 and 1 each see both experts; the previous token
        // (1 in row 0, 2 in row 1) decides the expert of the second token.
        IReadOnlyList<RoutingBatch> rows = [Row([1, 2], SyntheticTraces.Top1(2, 0, 1)), Row([2, 1], SyntheticTraces.Top1(2, 1, 0))];
        Assert.Equal(1.0, MutualInformation.Normalized(rows, 0, RoutingVariable.TokenId), 12);
        Assert.Equal(0.0, MutualInformation.Normalized(rows, 0, RoutingVariable.Position), 12);
        Assert.Equal(1.0, MutualInformation.Normalized(rows, 0, RoutingVariable.PreviousToken), 12);
    }

    [Fact]
    public void Normalised_mutual_information_of_a_two_by_two_table_matches_its_formula()
    {
        // counts (x, e): (0,0) 3, (0,1) 1, (1,0) 1, (1,1) 3; p(x) = p(e) = 1/2.
        // I = 2 * 3/8 ln(3/8 / 1/4) + 2 * 1/8 ln(1/8 / 1/4) = 3/4 ln 1.5 + 1/4 ln 0.5; H(E) = ln 2.
        var joint = new Dictionary<(int X, int E), long> { [(0, 0)] = 3, [(0, 1)] = 1, [(1, 0)] = 1, [(1, 1)] = 3 };
        Assert.Equal((0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5)) / Math.Log(2), MutualInformation.FromJoint(joint), 12);
        Assert.Equal(0.0, MutualInformation.FromJoint(new Dictionary<(int X, int E), long> { [(0, 1)] = 5, [(1, 1)] = 2 }), 12);   // E constant
    }

    [Fact]
    public void Expert_load_gives_coefficient_of_variation_dead_and_busiest_experts()
    {
        // Counts [6, 2, 0, 0]: shares [3/4, 1/4, 0, 0]; std = sqrt((1/4 + 0 + 1/16 + 1/16) / 4) = sqrt(3/32); mean 1/4.
        var load = ExpertLoad.Of([Row([1, 2, 3, 4, 5, 6, 7, 8], SyntheticTraces.Top1(4, 0, 0, 0, 0, 0, 0, 1, 1))], 0, 4);
        Assert.Equal([0.75, 0.25, 0, 0], load.Shares);
        Assert.Equal(Math.Sqrt(3.0 / 32) / 0.25, load.CoefficientOfVariation, 12);
        Assert.Equal(0.5, load.DeadShare, 12);   // experts 2 and 3 are below 1/(4E) = 1/16
        Assert.Equal(3.0, load.MaxOverFair, 12);
    }

    [Fact]
    public void Co_activation_is_the_share_of_an_experts_tokens_that_also_chose_the_other()
    {
        // K = 2, E = 3; top-k sets {0,1}, {0,1}, {0,2}, {1,2}.
        var matrix = CoActivation.Matrix([Row([1, 2, 3, 4], SyntheticTraces.TopK(3, 2, [0, 1, 1, 0, 0, 2, 2, 1]))], 0, 3);
        Assert.Equal([1, 2.0 / 3, 1.0 / 3], matrix[0]);
        Assert.Equal([2.0 / 3, 1, 1.0 / 3], matrix[1]);
        Assert.Equal([0.5, 0.5, 1], matrix[2]);
        Assert.Equal((2.0 / 3 + 2.0 / 3 + 0.5) / 3, CoActivation.StrongestPartner(matrix), 12);
        Assert.Equal(0.5, CoActivation.Uniform(3, 2), 12);
        Assert.Equal(0.0, CoActivation.Uniform(8, 1), 12);
    }

    [Fact]
    public void Consecutive_tokens_are_paired_within_a_row_only()
    {
        // Two rows of two tokens (K = 2): row 0 {0,1} then {0,2}; row 1 {3,1} then {3,2}. Both pairs share
        // their top-1 expert; across the row boundary ({0,2} then {3,1}) nothing is shared, and it is not a pair.
        var layer = SyntheticTraces.TopK(4, 2, [0, 1, 0, 2, 3, 1, 3, 2]);
        var batch = RoutingBatch.Synthetic([5, 6, 7, 8], 2, layer);
        Assert.Equal((1.0, 1.0), ConsecutiveExperts.Of([batch], 0));

        var noBos = batch with { DomainIds = [0, 0, 0, -1] };   // the second pair loses a document token
        Assert.Equal((1.0, 1.0), ConsecutiveExperts.Of([noBos], 0));
        var mixed = RoutingBatch.Synthetic([5, 6, 7], 3, SyntheticTraces.TopK(4, 2, [0, 1, 1, 2, 3, 0]));   // {0,1} {1,2} {3,0}
        Assert.Equal((0.0, 0.5), ConsecutiveExperts.Of([mixed], 0));
        // Uniform: 1/E, and 1 - C(2,2)/C(4,2) = 1 - 1/6.
        var (same, shared) = ConsecutiveExperts.Uniform(4, 2);
        Assert.Equal(0.25, same, 12);
        Assert.Equal(5.0 / 6, shared, 12);
    }

    [Fact]
    public void Margin_is_the_last_choice_minus_the_best_unchosen_expert()
    {
        // E = 4, K = 2. Margins: 0.3 - 0.15 = 0.15; 0.25 - 0.25 = 0 (a tie); 0.33 - 0.07 = 0.26.
        float[] probabilities = [0.5f, 0.3f, 0.15f, 0.05f, 0.25f, 0.25f, 0.25f, 0.25f, 0.05f, 0.55f, 0.33f, 0.07f];
        var layer = new LayerRouting(1, 4, 2, 4, [0, 1, 0, 1, 1, 2], [true, true, true, true, true, true], probabilities);
        Assert.Equal(0.15, layer.Margin(0), 6);
        Assert.Equal(0.0, layer.Margin(1), 6);
        Assert.Equal(0.26, layer.Margin(2), 6);

        var margin = RouterMargin.Of([Row([1, 2, 3], layer)], 0);
        Assert.Equal(0.15, margin.Median, 6);
        // Bins up to 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1: the tie in the first, 0.15 in the fifth, 0.26 in the sixth.
        double[] expected = [1.0 / 3, 0, 0, 0, 1.0 / 3, 1.0 / 3, 0];
        for (int bin = 0; bin < expected.Length; bin++)
            Assert.Equal(expected[bin], margin.BinShares[bin], 12);
    }

    [Fact]
    public void Vocabulary_specialisation_averages_each_experts_share_of_its_tokens()
    {
        // E = 2, K = 1. Token 7 four times (experts 0, 0, 0, 1), token 8 twice (1, 1).
        // Expert 0 gets 7 three times, s = 3/4 -> 3/4. Expert 1 gets 7 once (s = 1/4) and 8 twice (s = 1) -> (1/4 + 2) / 3 = 3/4.
        // Every token predicts 9: each expert holds half of token 9's occurrences -> 1/2, which is K/E.
        var batch = RoutingBatch.Synthetic([7, 7, 7, 7, 8, 8], 6, SyntheticTraces.Top1(2, 0, 0, 0, 1, 1, 1)) with { PredictedIds = [9, 9, 9, 9, 9, 9] };
        Assert.Equal(0.75, VocabularySpecialization.Of([batch], 0, 2, predicted: false), 12);
        Assert.Equal(0.5, VocabularySpecialization.Of([batch], 0, 2, predicted: true), 12);
    }
}
