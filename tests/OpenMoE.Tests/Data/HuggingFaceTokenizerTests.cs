using OpenMoE.Tests.Cli;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

/// <summary>
/// <see cref="HuggingFaceTextTokenizer"/> on a tokenizer.json made for the test (Fixtures/tiny-bpe.tokenizer.json:
/// a BPE of 28 ids, 10 letters and 17 merges, whitespace pre-tokenizer), and every way such a file can be broken.
/// </summary>
public sealed class HuggingFaceTokenizerTests : IDisposable
{
    private static readonly string Fixture = RepositoryFiles.PathOf("tests/OpenMoE.Tests/Data/Fixtures/tiny-bpe.tokenizer.json");
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-hf-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    // Ids as the file numbers them, shifted past OpenMoE's pad/BOS, EOS and UNK.
    private static int Id(int fileId) => HuggingFaceTextTokenizer.FirstPieceId + fileId;

    [Fact]
    public void Words_encode_by_the_files_merges_into_subwords_and_decode_back()
    {
        var tokenizer = HuggingFaceTextTokenizer.Load(Fixture);

        // hello = 14, world = 22 (whole words merged); "lowest" has no merge of its own: low (16) + est (26).
        Assert.Equal([Id(14), Id(22)], tokenizer.Encode("hello world"));
        Assert.Equal([Id(16), Id(26)], tokenizer.Encode("lowest"));
        Assert.Equal([Id(27)], tokenizer.Encode("newest"));
        Assert.Equal([Id(0)], tokenizer.Encode("z"));   // not in the vocabulary: the file's [UNK]
        Assert.Empty(tokenizer.Encode(""));
        Assert.Equal("hello world", tokenizer.Decode(tokenizer.Encode("hello world")));
    }

    [Fact]
    public void Ids_keep_openmoe_specials_below_and_sentinels_above_the_files_ids()
    {
        var tokenizer = (HuggingFaceTextTokenizer)Tokenizers.Open(Fixture, modelVocab: 512);

        Assert.Equal(28, tokenizer.Pieces);
        Assert.Equal(3 + 28 + 100, tokenizer.VocabSize);
        Assert.Equal((0, 0, 1, 2), (tokenizer.PadId, tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));
        Assert.Equal(tokenizer.VocabSize - 1, tokenizer.SentinelId(0));
        Assert.Equal("<extra_id_0>hello", tokenizer.Decode([tokenizer.PadId, tokenizer.SentinelId(0), Id(14), tokenizer.EosId]));
        var tooSmall = Assert.Throws<ArgumentException>(() => Tokenizers.Open(Fixture, modelVocab: 100));
        Assert.Contains("at least 131", tooSmall.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoints_record_the_file_by_name_and_content()
    {
        string copy = Write("tokenizer.json", File.ReadAllText(Fixture));
        string other = Write("other.json", File.ReadAllText(Fixture).Replace("\"newest\"", "\"newes\"", StringComparison.Ordinal));
        string recorded = Tokenizers.RecordedName(copy);

        Assert.StartsWith("huggingface:tokenizer.json#", recorded, StringComparison.Ordinal);
        Tokenizers.CheckMatches(recorded, copy, "run");
        Assert.Equal(recorded.Split('#')[1], Tokenizers.RecordedName(Fixture).Split('#')[1]);   // same bytes, same record hash
        var mismatch = Assert.Throws<ArgumentException>(() => Tokenizers.CheckMatches(recorded, other, "run"));
        Assert.Contains("--tokenizer PATH/tokenizer.json", mismatch.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> Broken => new()
    {
        { "truncated", "half", "not valid JSON" },
        { "prose", "a sentence, not JSON", "not valid JSON" },
        { "no model", "{\"version\": \"1.0\"}", "no model.vocab" },
        { "vocab is a number", "{\"model\": {\"type\": \"BPE\", \"vocab\": 5}}", "neither an object nor an array" },
        { "negative id", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", "not a non-negative integer" },
        { "empty vocabulary", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}, \"unk_token\": \"a\"}}", "empty vocabulary" },
        { "unknown model type", "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}", "cannot read it" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_broken_tokenizer_json_fails_with_what_is_wrong(string name, string content, string mention)
    {
        string text = content == "half" ? File.ReadAllText(Fixture)[..(File.ReadAllText(Fixture).Length / 2)] : content;
        string path = Write(name.Replace(' ', '-') + ".json", text);

        var ex = Assert.Throws<InvalidDataException>(() => Tokenizers.Open(path, modelVocab: 512));
        Assert.Contains(mention, ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_with_a_truncated_tokenizer_json_is_exit_2_with_one_error_line()
    {
        string path = Write("cut.json", File.ReadAllText(Fixture)[..100]);
        var result = CliRunner.Invoke("train", "--tokenizer", path, "--steps", "1", "--data", RepositoryFiles.PathOf("data/corpus"),
            "--out", Path.Combine(_root, "run"), "--device", "cpu");

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("cut.json", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "run")));
    }
}
