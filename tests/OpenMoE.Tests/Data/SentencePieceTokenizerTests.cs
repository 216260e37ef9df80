using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

/// <summary>
/// A real (tiny) SentencePiece Unigram model, written as protobuf bytes by
/// <see cref="SentencePieceModelBuilder"/> with T5/umT5's special layout (pad 0, eos 1, unk 2, no BOS),
/// loaded through Microsoft.ML.Tokenizers.
/// </summary>
public class SentencePieceTokenizerTests
{
    private const string Space = "\u2581";

    private static SentencePieceModelBuilder TinyModel()
    {
        var builder = new SentencePieceModelBuilder { PadId = 0, EosId = 1, UnkId = 2, BosId = -1 };
        builder.Add("<pad>", 0, SentencePieceModelBuilder.Control)
               .Add("</s>", 0, SentencePieceModelBuilder.Control)
               .Add("<unk>", 0, SentencePieceModelBuilder.Unknown)
               .Add(Space, -3)          // 3
               .Add(Space + "the", -1)  // 4
               .Add(Space + "cat", -1)  // 5
               .Add("s", -2)            // 6
               .Add(Space + "ca", -4)   // 7
               .Add("t", -3)            // 8
               .Add("h", -3)            // 9
               .Add("e", -3)            // 10
               .Add("c", -3)            // 11
               .Add("a", -3)            // 12
               .Add(Space + "sat", -1.5f); // 13
        return builder;
    }

    private static SentencePieceTextTokenizer Load(SentencePieceModelBuilder builder, int extraIds = 300) =>
        SentencePieceTextTokenizer.Load(new MemoryStream(builder.Build()), extraIds);

    [Fact]
    public void Unigram_model_segments_by_best_score()
    {
        var tokenizer = Load(TinyModel());
        // "▁the" "▁cat" "s" beats any split into characters under the Unigram scores.
        Assert.Equal(new[] { 4, 5, 6 }, tokenizer.Encode("the cats"));
        Assert.Equal(new[] { 5, 13 }, tokenizer.Encode("cat sat"));
        Assert.Equal("the cats", tokenizer.Decode([4, 5, 6]));
    }

    [Fact]
    public void T5_layout_without_bos_loads_with_pad_as_bos()
    {
        var tokenizer = Load(TinyModel());
        Assert.Equal((0, 0, 1, 2), (tokenizer.PadId, tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));
    }

    [Fact]
    public void Extra_ids_sit_above_the_pieces_and_decode_as_sentinels()
    {
        var builder = TinyModel();
        var tokenizer = Load(builder, extraIds: 300);
        Assert.Equal(builder.Count + 300, tokenizer.VocabSize);
        Assert.Equal(tokenizer.VocabSize - 1, tokenizer.SentinelId(0));
        Assert.Equal(builder.Count, tokenizer.SentinelId(299));
        int[] ids = [0, 4, tokenizer.SentinelId(0), 6, tokenizer.SentinelId(1), 1];
        Assert.Equal("the<extra_id_0>s<extra_id_1>", tokenizer.Decode(ids));
    }

    [Fact]
    public void Characters_outside_the_model_become_unk()
    {
        var tokenizer = Load(TinyModel());
        var ids = tokenizer.Encode("the dog");
        Assert.Equal(4, ids[0]);
        Assert.Contains(tokenizer.UnkId, ids);
        Assert.DoesNotContain(ids, id => tokenizer.IsSentinel(id));
    }

    [Fact]
    public void A_file_that_is_not_a_model_is_refused()
    {
        Assert.ThrowsAny<Exception>(() => SentencePieceTextTokenizer.Load(new MemoryStream([0x0A, 0x00]), 10));
        Assert.Throws<InvalidDataException>(() => SentencePieceTextTokenizer.Load(new MemoryStream([]), 10));
    }
}
