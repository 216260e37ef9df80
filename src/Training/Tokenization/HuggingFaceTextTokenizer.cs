extern alias HfTokenizers;

using System.Text.Json;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> (any model the Rust tokenizers library reads: BPE, Unigram,
/// WordPiece, WordLevel), run by that library through Tokenizers.DotNet, with OpenMoE's special ids
/// around it (<see cref="ShiftedPiecesTokenizer"/>: the file's id i at i + 3, 100 sentinels on top). The file's own special and
/// added tokens keep their ids but are not used as specials. A post-processor in the file (e.g. BERT's
/// [CLS] ... [SEP]) is applied by the library, so its ids appear in the encoding.
/// </summary>
public sealed class HuggingFaceTextTokenizer : ShiftedPiecesTokenizer
{
    private readonly HfTokenizers::Tokenizers.DotNet.Tokenizer _inner;

    private HuggingFaceTextTokenizer(string path, HfTokenizers::Tokenizers.DotNet.Tokenizer inner, int pieces) : base(pieces)
    {
        Path = path;
        _inner = inner;
    }

    /// <summary>
    /// Reads <paramref name="path"/>. The id count comes from the file itself (the largest id of the model's
    /// vocabulary and of its added tokens, plus one), checked before the library parses it, so a file that is
    /// not a tokenizer.json fails with <see cref="InvalidDataException"/> naming what is wrong.
    /// </summary>
    public static HuggingFaceTextTokenizer Load(string path)
    {
        int pieces = CountIds(path);
        HfTokenizers::Tokenizers.DotNet.Tokenizer inner;
        try
        {
            inner = new HfTokenizers::Tokenizers.DotNet.Tokenizer(vocabPath: path);
        }
        catch (HfTokenizers::Tokenizers.DotNet.TokenizerException ex)
        {
            throw new InvalidDataException($"--tokenizer '{path}': the Hugging Face tokenizers library cannot read it ({ex.Message}).", ex);
        }
        return new HuggingFaceTextTokenizer(path, inner, pieces);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public override int[] Encode(string text) =>
        text.Length == 0 ? [] : _inner.Encode(text).Select(id => Shift(id, Path)).ToArray();

    /// <inheritdoc/>
    protected override string DecodePieces(List<int> libraryIds) => _inner.Decode(libraryIds.Select(id => (uint)id).ToArray());

    // The library exposes no vocabulary size; the file states it. Only the fields read here are checked:
    // the library checks the rest when it parses the file.
    private static int CountIds(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"--tokenizer '{path}' is not valid JSON ({ex.Message}); pass a Hugging Face tokenizer.json.", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
                || !model.TryGetProperty("vocab", out var vocab))
                throw new InvalidDataException($"--tokenizer '{path}' has no model.vocab; pass a Hugging Face tokenizer.json.");
            long largest = -1;
            switch (vocab.ValueKind)
            {
                case JsonValueKind.Object:   // BPE, WordPiece, WordLevel: token -> id
                    foreach (var entry in vocab.EnumerateObject())
                        largest = Math.Max(largest, Id(entry.Value, path));
                    break;
                case JsonValueKind.Array:    // Unigram: [piece, score] in id order
                    largest = vocab.GetArrayLength() - 1;
                    break;
                default:
                    throw new InvalidDataException($"--tokenizer '{path}': model.vocab is neither an object nor an array; pass a Hugging Face tokenizer.json.");
            }
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            {
                foreach (var token in added.EnumerateArray())
                {
                    if (token.ValueKind == JsonValueKind.Object && token.TryGetProperty("id", out var id))
                        largest = Math.Max(largest, Id(id, path));
                }
            }
            if (largest < 0)
                throw new InvalidDataException($"--tokenizer '{path}' has an empty vocabulary.");
            if (largest >= int.MaxValue - FirstPieceId - Sentinels)
                throw new InvalidDataException($"--tokenizer '{path}' has id {largest}, too large for a vocabulary.");
            return (int)largest + 1;
        }
    }

    private static long Id(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long id) && id >= 0
            ? id
            : throw new InvalidDataException($"--tokenizer '{path}' has a token id that is not a non-negative integer ({value.GetRawText()}).");
}
