using OpenMoE.Analysis;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Analysis;

public class TokenSpecializationTests
{
    private static readonly ByteTokenizer Tokenizer = new(512);

    [Fact]
    public void Token_7_always_on_expert_3_has_specialization_one_while_token_9_spread_evenly_has_zero()
    {
        // T = 4, E = 4, K = 1: token 7 always to expert 3; token 9 visits experts 0..3 once each.
        int[] tokens = [7, 9, 7, 9, 9, 7, 9, 7];
        int[] experts = [3, 0, 3, 1, 2, 3, 3, 3];
        var accumulator = new TokenSpecializationAccumulator([1], 4, 1, 4);
        accumulator.Add(RoutingBatch.Synthetic(tokens, 4, SyntheticTraces.Top1(4, experts)));

        var layer = Assert.Single(accumulator.Results(minCount: 1, Tokenizer, topTokensPerExpert: 3));
        var seven = layer.Tokens.Single(t => t.Id == 7);
        var nine = layer.Tokens.Single(t => t.Id == 9);
        Assert.Equal(1.0, seven.SpecializationTop1, 12);
        Assert.Equal([0L, 0, 0, 4], seven.Top1);
        Assert.Equal(0.0, nine.SpecializationTop1, 12);
        Assert.Equal(Math.Sqrt(0.5), layer.TokenSpreadTop1, 12);          // RMS of 1 and 0
        Assert.Equal(Math.Sqrt(1.0 / 4), layer.TokenBaseline, 12);         // both seen 4 times
    }

    [Fact]
    public void Mean_spreads_for_the_bootstrap_are_the_hand_computed_spreads()
    {
        // The trace of the test above (token 7 always on expert 3: 1; token 9 even: 0), K = 1, with
        // minCount 5 leaving both tokens out, and minCount 1 keeping both: token RMS sqrt(1/2), baseline sqrt(1/4).
        var accumulator = new TokenSpecializationAccumulator([1], 4, 1, 4);
        accumulator.Add(RoutingBatch.Synthetic([7, 9, 7, 9, 9, 7, 9, 7], 4, SyntheticTraces.Top1(4, 3, 0, 3, 1, 2, 3, 3, 3)));

        var (token, position, baseline) = accumulator.MeanSpreads(minCount: 1);
        Assert.Equal(Math.Sqrt(0.5), token, 12);
        Assert.Equal(0.5, baseline, 12);
        // Positions: 0 sees experts {3, 2}, 1 {0, 3}, 2 {3, 3}, 3 {1, 3}. Spread of {3,3} is 1; of two distinct experts
        // p = (1/2, 1/2, 0, 0): std = 1/4 over max sqrt(3/16) -> 1/sqrt(3). RMS = sqrt((3 * 1/3 + 1) / 4) = sqrt(1/2).
        Assert.Equal(Math.Sqrt(0.5), position, 12);
        Assert.Equal((0.0, 0.0), (accumulator.MeanSpreads(minCount: 5).Token, accumulator.MeanSpreads(minCount: 5).TokenBaseline));
    }

    [Fact]
    public void Routing_by_token_id_shows_no_position_spread_when_ids_are_balanced_over_positions()
    {
        // Rows [7, 9] and [9, 7]; 7 -> expert 0, 9 -> expert 1. Each position sees both experts once.
        var accumulator = new TokenSpecializationAccumulator([1], 2, 1, 2);
        accumulator.Add(RoutingBatch.Synthetic([7, 9, 9, 7], 2, SyntheticTraces.Top1(2, 0, 1, 1, 0)));

        var layer = accumulator.Results(1, Tokenizer, 2)[0];
        Assert.Equal(1.0, layer.TokenSpreadTop1, 12);
        Assert.Equal(0.0, layer.PositionSpreadTop1, 12);
        Assert.Equal(Math.Sqrt(0.5), layer.TokenBaseline, 12);
        Assert.Equal(Math.Sqrt(0.5), layer.PositionBaseline, 12);
    }

    [Fact]
    public void Top_k_counts_every_choice_and_top_tokens_per_expert_report_their_share()
    {
        // K = 2, E = 4: token 7 -> (3, 1) twice; token 8 -> (1, 0) once and (2, 0) once.
        int[] choices = [3, 1, 3, 1, 1, 0, 2, 0];
        var accumulator = new TokenSpecializationAccumulator([1], 4, 2, 4);
        accumulator.Add(RoutingBatch.Synthetic([7, 7, 8, 8], 4, SyntheticTraces.TopK(4, 2, choices)));

        var layer = accumulator.Results(1, Tokenizer, 5)[0];
        var seven = layer.Tokens.Single(t => t.Id == 7);
        Assert.Equal(1.0, seven.SpecializationTopK, 12);
        Assert.Equal([0L, 2, 0, 2], seven.TopK);
        var eight = layer.Tokens.Single(t => t.Id == 8);
        Assert.Equal([2L, 1, 1, 0], eight.TopK);
        // p = [1/2, 1/4, 1/4, 0]: var = (1/16 + 0 + 0 + 1/16) / 4 = 1/32; max var (E=4, K=2) = 2/32.
        Assert.Equal(Math.Sqrt(0.5), eight.SpecializationTopK, 12);
        var expertOne = layer.TopTokensPerExpert[1];
        Assert.Equal([7, 8], expertOne.Select(t => t.Id));
        Assert.Equal(1.0, expertOne[0].ShareOfToken, 12);   // both occurrences of 7 reach expert 1
        Assert.Equal(0.5, expertOne[1].ShareOfToken, 12);
        Assert.Equal("\\u0004", expertOne[0].Text);   // byte id 7 is the control byte 0x04
    }

    [Fact]
    public void A_uniformly_random_trace_sits_at_the_baseline_for_token_ids_and_positions()
    {
        // 400 ids x 16 occurrences over rows of 32 positions, E = 8, K = 2, experts drawn uniformly.
        const int experts = 8, topK = 2, time = 32;
        var random = new Random(11);
        var ids = Enumerable.Range(0, 400).SelectMany(id => Enumerable.Repeat(id, 16)).OrderBy(_ => random.Next()).ToArray();
        var choices = ids.SelectMany(_ => Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(topK)).ToArray();
        var accumulator = new TokenSpecializationAccumulator([1], experts, topK, time);
        accumulator.Add(RoutingBatch.Synthetic(ids, time, SyntheticTraces.TopK(experts, topK, choices)));

        var layer = accumulator.Results(1, Tokenizer, 1)[0];
        Assert.Equal(0.25, layer.TokenBaseline, 12);                        // sqrt(1/16)
        Assert.Equal(Math.Sqrt(1.0 / 200), layer.PositionBaseline, 12);      // 6400 tokens / 32 positions
        Assert.InRange(layer.TokenSpreadTopK / layer.TokenBaseline, 0.93, 1.07);
        Assert.InRange(layer.PositionSpreadTopK / layer.PositionBaseline, 0.8, 1.2);
    }

    [Fact]
    public void Rare_ids_and_padding_are_left_out()
    {
        int[] tokens = [0, 7, 7, 5];
        var batch = new RoutingBatch(tokens, 4, [-1, 0, 0, 0], [-1, 0, 0, 0], [SyntheticTraces.Top1(2, 1, 0, 0, 1)], new int[4]);
        var accumulator = new TokenSpecializationAccumulator([1], 2, 1, 4);
        accumulator.Add(batch);

        var layer = accumulator.Results(minCount: 2, Tokenizer, 2)[0];
        Assert.Equal([7], layer.Tokens.Select(t => t.Id));
        Assert.False(accumulator.TokenFrequencies.ContainsKey(0));
        Assert.Equal(1L, accumulator.TokenFrequencies[5]);
    }

    [Fact]
    public void Token_text_makes_whitespace_visible()
    {
        var tokenizer = new ByteTokenizer(512);
        Assert.Equal("␣", TokenText.Of(tokenizer, tokenizer.Encode(" ")[0]));
        Assert.Equal("\\n", TokenText.Of(tokenizer, tokenizer.Encode("\n")[0]));
        Assert.Equal("a", TokenText.Of(tokenizer, tokenizer.Encode("a")[0]));
        Assert.Equal("<pad>", TokenText.Of(tokenizer, tokenizer.PadId));
        Assert.Equal("<0xC3>", TokenText.Of(tokenizer, tokenizer.Encode("é")[0]));   // a lead byte alone is not UTF-8
    }
}
