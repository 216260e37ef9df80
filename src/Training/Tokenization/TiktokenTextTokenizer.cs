using Microsoft.ML.Tokenizers;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A real byte-level BPE vocabulary (GPT-2, r50k, cl100k, o200k), from the .tiktoken files that the
/// Microsoft.ML.Tokenizers.Data packages embed, with OpenMoE's special ids around it
/// (<see cref="ShiftedPiecesTokenizer"/>: BPE rank r at id r + 3, 100 sentinels on top); the
/// vocabularies' own special tokens (&lt;|endoftext|&gt; ...) are not used.
/// </summary>
public sealed class TiktokenTextTokenizer : ShiftedPiecesTokenizer
{
    /// <summary>
    /// Short name -> tiktoken encoding name and its id count (BPE ranks plus the encoding's own special
    /// tokens, as tiktoken defines them: gpt2/r50k end with &lt;|endoftext|&gt; = 50256, cl100k's specials
    /// end at 100276, o200k's at 200018). Microsoft.ML.Tokenizers 3.0 does not expose its rank table.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (string Encoding, int Ids)> Encodings = new Dictionary<string, (string, int)>(StringComparer.Ordinal)
    {
        ["gpt2"] = ("gpt2", 50_257),
        ["r50k"] = ("r50k_base", 50_257),
        ["cl100k"] = ("cl100k_base", 100_277),
        ["o200k"] = ("o200k_base", 200_019),
    };

    private readonly TiktokenTokenizer _inner;

    private TiktokenTextTokenizer(string name, TiktokenTokenizer inner, int pieces) : base(pieces)
    {
        Name = name;
        _inner = inner;
    }

    /// <summary>Opens one of <see cref="Encodings"/> by its short name.</summary>
    public static TiktokenTextTokenizer Open(string name) =>
        Encodings.TryGetValue(name, out var encoding)
            // CreateForEncoding does not know "gpt2" (only the *_base encodings); the GPT-2 model name maps to it.
            ? new TiktokenTextTokenizer(name, name == "gpt2" ? TiktokenTokenizer.CreateForModel("gpt2") : TiktokenTokenizer.CreateForEncoding(encoding.Encoding), encoding.Ids)
            : throw new ArgumentException($"Unknown BPE vocabulary '{name}'; use one of {string.Join(", ", Encodings.Keys)}.");

    /// <summary>The short name (gpt2, r50k, cl100k, o200k).</summary>
    public string Name { get; }

    /// <inheritdoc/>
    public override int[] Encode(string text) =>
        _inner.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true).Select(rank => Shift(rank, $"The {Name} vocabulary")).ToArray();

    /// <inheritdoc/>
    protected override string DecodePieces(List<int> libraryIds) => _inner.Decode(libraryIds);
}
