using System.Text;
using Microsoft.ML.Tokenizers;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A real byte-level BPE vocabulary (GPT-2, r50k, cl100k, o200k), from the .tiktoken files that the
/// Microsoft.ML.Tokenizers.Data packages embed, with OpenMoE's special ids around it.
/// Layout: 0 pad/BOS, 1 EOS, 2 UNK, then BPE rank r at id <c>FirstPieceId + r</c>, then the sentinels
/// (100, as T5) at the top. The ids shift by 3 because OpenMoE needs pad = BOS = 0 and EOS = 1, which
/// the BPE ranks occupy; the vocabularies' own special tokens (&lt;|endoftext|&gt; ...) are not used.
/// </summary>
public sealed class TiktokenTextTokenizer : ITokenizer
{
    /// <summary>Id of BPE rank 0.</summary>
    public const int FirstPieceId = 3;

    /// <summary>Sentinels above the pieces (T5's extra ids).</summary>
    public const int Sentinels = 100;

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
    private readonly int _pieces;

    private TiktokenTextTokenizer(string name, TiktokenTokenizer inner, int pieces)
    {
        Name = name;
        _inner = inner;
        _pieces = pieces;
        VocabSize = FirstPieceId + _pieces + Sentinels;
    }

    /// <summary>Opens one of <see cref="Encodings"/> by its short name.</summary>
    public static TiktokenTextTokenizer Open(string name) =>
        Encodings.TryGetValue(name, out var encoding)
            // CreateForEncoding does not know "gpt2" (only the *_base encodings); the GPT-2 model name maps to it.
            ? new TiktokenTextTokenizer(name, name == "gpt2" ? TiktokenTokenizer.CreateForModel("gpt2") : TiktokenTokenizer.CreateForEncoding(encoding.Encoding), encoding.Ids)
            : throw new ArgumentException($"Unknown BPE vocabulary '{name}'; use one of {string.Join(", ", Encodings.Keys)}.");

    /// <summary>The short name (gpt2, r50k, cl100k, o200k).</summary>
    public string Name { get; }

    /// <summary>BPE ranks of the vocabulary plus its own special tokens.</summary>
    public int Pieces => _pieces;

    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int PadId => 0;
    /// <inheritdoc/>
    public int BosId => 0;
    /// <inheritdoc/>
    public int EosId => 1;
    /// <inheritdoc/>
    public int UnkId => 2;
    /// <inheritdoc/>
    public int SentinelCount => Sentinels;

    /// <inheritdoc/>
    public int[] Encode(string text) =>
        _inner.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true).Select(rank => rank < _pieces
            ? FirstPieceId + rank
            : throw new InvalidDataException($"The {Name} vocabulary produced id {rank}, beyond its {_pieces} ids.")).ToArray();

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (id >= FirstPieceId && id < FirstPieceId + _pieces)
            {
                run.Add(id - FirstPieceId);
                continue;
            }
            Flush();
            if (this.IsSentinel(id))
                text.Append(TokenizerExtensions.SentinelText(this.SentinelIndex(id)));
        }
        Flush();
        return text.ToString();

        // Pieces are decoded together: a byte-level piece alone may be half of a UTF-8 character.
        void Flush()
        {
            if (run.Count == 0)
                return;
            text.Append(_inner.Decode(run));
            run.Clear();
        }
    }
}
