using System.Text;
using FsCheck.Xunit;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

public class ByteTokenizerTests
{
    [Property(MaxTest = 200)]
    public bool Decode_inverts_encode_for_any_valid_text(string? text)
    {
        text ??= "";
        // Lone surrogates have no UTF-8 form; the law is about text that does.
        var valid = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
        var tokenizer = new ByteTokenizer();
        var ids = tokenizer.Encode(valid);
        return tokenizer.Decode(ids) == valid
               && ids.All(id => id >= ByteTokenizer.FirstByteId && id < ByteTokenizer.ReservedIds);
    }

    [Fact]
    public void Layout_fits_the_tiny_vocabulary()
    {
        var tokenizer = new ByteTokenizer(512);
        Assert.Equal((0, 0, 1, 2), (tokenizer.PadId, tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));
        Assert.Equal(512 - 259, tokenizer.SentinelCount);
        Assert.Equal(511, tokenizer.SentinelId(0));
        Assert.Equal(259, tokenizer.SentinelId(tokenizer.SentinelCount - 1));
        Assert.False(tokenizer.IsSentinel(258));
        Assert.Equal(new[] { 3 + 'h', 3 + 'i' }, tokenizer.Encode("hi"));
        Assert.Equal(new[] { 3 + 0xC3, 3 + 0xA9 }, tokenizer.Encode("é"));
    }

    [Fact]
    public void Larger_vocabularies_keep_bytes_and_move_sentinels_to_the_top()
    {
        var tokenizer = new ByteTokenizer(1024, sentinelCount: 100);
        Assert.Equal(1023, tokenizer.SentinelId(0));
        Assert.Equal(924, tokenizer.SentinelId(99));
        Assert.Equal("<unused_500>", tokenizer.Decode([500]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.SentinelId(100));
    }

    [Fact]
    public void Decode_renders_sentinels_and_drops_pad_and_eos()
    {
        var tokenizer = new ByteTokenizer(512);
        int[] ids = [0, .. tokenizer.Encode("a"), tokenizer.SentinelId(0), .. tokenizer.Encode("b"), tokenizer.SentinelId(7), 1];
        Assert.Equal("a<extra_id_0>b<extra_id_7>", tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_survives_invalid_utf8_and_split_characters()
    {
        var tokenizer = new ByteTokenizer(512);
        var euro = tokenizer.Encode("€"); // three bytes
        // A character cut by a sentinel and a stray continuation byte both become U+FFFD.
        int[] ids = [euro[0], euro[1], tokenizer.SentinelId(0), 3 + 0x80, tokenizer.UnkId];
        var text = tokenizer.Decode(ids);
        Assert.StartsWith("\uFFFD", text);
        Assert.Contains("<extra_id_0>", text);
        Assert.EndsWith("\uFFFD\uFFFD", text);
    }

    [Fact]
    public void Too_small_a_vocabulary_is_refused_with_a_reason()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ByteTokenizer(259));
        Assert.Contains("259", error.Message);
    }
}

public class TokenizerFactoryTests
{
    [Fact]
    public void Without_a_model_file_the_byte_tokenizer_fills_the_model_vocabulary()
    {
        var tokenizer = OpenMoE.Training.Tokenization.Tokenizers.Open(null, 512);
        Assert.IsType<ByteTokenizer>(tokenizer);
        Assert.Equal(511, tokenizer.SentinelId(0));
    }

    [Fact]
    public void A_tokenizer_larger_than_the_model_is_refused()
    {
        var path = Path.Combine(Path.GetTempPath(), $"omoe-{Guid.NewGuid():N}.model");
        var builder = new SentencePieceModelBuilder();
        builder.Add("<pad>", 0, SentencePieceModelBuilder.Control).Add("</s>", 0, SentencePieceModelBuilder.Control)
               .Add("<unk>", 0, SentencePieceModelBuilder.Unknown).Add("\u2581a", -1);
        File.WriteAllBytes(path, builder.Build());
        try
        {
            Assert.Equal(4 + 300, OpenMoE.Training.Tokenization.Tokenizers.Open(path, 512).VocabSize);
            var error = Assert.Throws<ArgumentException>(() => OpenMoE.Training.Tokenization.Tokenizers.Open(path, 300));
            Assert.Contains("304", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
