using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

public class TiktokenTokenizerTests
{
    [Theory]
    // GPT-2 encodes "Hello world" as [15496, 995], cl100k as [9906, 1917] (tiktoken); ours shift by 3.
    [InlineData("gpt2", 15496, 995)]
    [InlineData("r50k", 15496, 995)]
    [InlineData("cl100k", 9906, 1917)]
    public void Known_ids_shift_past_the_special_ids_and_decode_back(string name, int hello, int world)
    {
        var tokenizer = TiktokenTextTokenizer.Open(name);
        Assert.Equal([hello + 3, world + 3], tokenizer.Encode("Hello world"));
        Assert.Equal("Hello world", tokenizer.Decode(tokenizer.Encode("Hello world")));
        Assert.Equal((0, 0, 1, 2), (tokenizer.PadId, tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));
    }

    [Fact]
    public void O200k_round_trips_multilingual_text_and_keeps_sentinels_at_the_top()
    {
        var tokenizer = TiktokenTextTokenizer.Open("o200k");
        Assert.Equal(3 + 200_019 + 100, tokenizer.VocabSize);
        const string text = "Tous les êtres humains naissent libres. 人人生而自由。 x = 1;";
        var ids = tokenizer.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, TiktokenTextTokenizer.FirstPieceId, tokenizer.VocabSize - 101));
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal("a<extra_id_0>", tokenizer.Decode([.. tokenizer.Encode("a"), tokenizer.SentinelId(0), tokenizer.PadId, tokenizer.EosId]));
    }

    [Fact]
    public void Names_open_by_tokenizer_value_and_must_fit_the_model()
    {
        Assert.Equal("gpt2", Assert.IsType<TiktokenTextTokenizer>(Tokenizers.Open("gpt2", 60_000)).Name);
        Assert.Contains("at least 50360", Assert.Throws<ArgumentException>(() => Tokenizers.Open("gpt2", 512)).Message);
        Assert.Contains("neither a BPE vocabulary", Assert.Throws<ArgumentException>(() => Tokenizers.Open("no-such.model", 512)).Message);
    }

    [Fact]
    public void A_checkpoints_recorded_tokenizer_must_match_in_one_line()
    {
        Assert.Equal("byte", Tokenizers.RecordedName(null));
        Assert.Equal("o200k", Tokenizers.RecordedName("o200k"));
        Assert.Equal("sentencepiece:spiece.model", Tokenizers.RecordedName("/models/umt5/spiece.model"));
        Tokenizers.CheckMatches(null, "gpt2", "old");                        // nothing recorded: nothing to check
        Tokenizers.CheckMatches("sentencepiece:spiece.model", "/elsewhere/spiece.model", "run");
        var error = Assert.Throws<ArgumentException>(() => Tokenizers.CheckMatches("gpt2", null, "runs/x/step-10"));
        Assert.Equal("runs/x/step-10 was trained with the gpt2 tokenizer, not byte; pass --tokenizer gpt2.", error.Message);
        Assert.Contains("pass no --tokenizer", Assert.Throws<ArgumentException>(() => Tokenizers.CheckMatches("byte", "o200k", "c")).Message);
    }
}
