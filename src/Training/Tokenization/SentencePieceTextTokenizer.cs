using System.Text;
using Microsoft.ML.Tokenizers;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A SentencePiece model file (umT5's <c>spiece.model</c>, a Unigram model) through
/// Microsoft.ML.Tokenizers, plus T5-style extra ids: <c>VocabSize = pieces + extraIds</c> and
/// sentinel n is <c>VocabSize - 1 - n</c> (OpenMoE: 256,000 pieces + 300 extra ids; the model
/// pads its embedding to 256,384).
/// </summary>
public sealed class SentencePieceTextTokenizer : ITokenizer
{
    private readonly SentencePieceTokenizer _inner;
    private readonly int _pieceCount;

    private SentencePieceTextTokenizer(SentencePieceTokenizer inner, SentencePieceModelHeader header, int extraIds)
    {
        _inner = inner;
        _pieceCount = header.PieceCount;
        SentinelCount = extraIds;
        VocabSize = header.PieceCount + extraIds;
        PadId = header.PadId >= 0 ? header.PadId : 0;
        BosId = header.BosId >= 0 ? header.BosId : PadId;
        EosId = header.EosId;
        UnkId = header.UnkId;
    }

    /// <summary>Loads a model file; see <see cref="Load(Stream, int)"/>.</summary>
    public static SentencePieceTextTokenizer Load(string path, int extraIds = 300)
    {
        using var stream = File.OpenRead(path);
        return Load(stream, extraIds);
    }

    /// <summary>
    /// Loads a serialized SentencePiece <c>ModelProto</c>. A model without BOS (T5, umT5) gets
    /// pad as BOS, as OpenMoE does.
    /// </summary>
    /// <param name="model">The model bytes (trusted source: the parser is not hardened).</param>
    /// <param name="extraIds">Sentinel ids appended above the pieces (umT5: 300).</param>
    public static SentencePieceTextTokenizer Load(Stream model, int extraIds = 300)
    {
        if (extraIds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(extraIds), "UL2 needs at least one sentinel (extra id).");
        }
        using var buffer = new MemoryStream();
        model.CopyTo(buffer);
        var bytes = buffer.ToArray();
        var header = SentencePieceModelHeader.Read(bytes);
        if (header.PieceCount == 0)
        {
            throw new InvalidDataException("The SentencePiece model has no pieces; is this a spiece.model file?");
        }
        if (header.BosId < 0)
        {
            bytes = SentencePieceModelHeader.WithPadAsBos(bytes, header);
        }
        var inner = SentencePieceTokenizer.Create(new MemoryStream(bytes), addBeginningOfSentence: false, addEndOfSentence: false);
        return new SentencePieceTextTokenizer(inner, header, extraIds);
    }

    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int PadId { get; }
    /// <inheritdoc/>
    public int BosId { get; }
    /// <inheritdoc/>
    public int EosId { get; }
    /// <inheritdoc/>
    public int UnkId { get; }
    /// <inheritdoc/>
    public int SentinelCount { get; }

    /// <inheritdoc/>
    public int[] Encode(string text) =>
        // Microsoft.ML.Tokenizers 3 reports text outside the model as its own UnknownId, which need not be the model's unk_id.
        [.. _inner.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false).Select(id => id == _inner.UnknownId ? UnkId : id)];

    /// <inheritdoc/>
    /// <remarks>Sentinels (and ids between the pieces and the sentinels) are rendered here;
    /// runs of piece ids are decoded by SentencePiece.</remarks>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            if (id >= 0 && id < _pieceCount)
            {
                if (id != PadId && id != EosId && id != BosId)
                {
                    run.Add(id);
                }
                continue;
            }
            Flush(run, text);
            text.Append(this.IsSentinel(id) ? TokenizerExtensions.SentinelText(this.SentinelIndex(id)) : $"<unused_{id}>");
        }
        Flush(run, text);
        return text.ToString();
    }

    private void Flush(List<int> run, StringBuilder text)
    {
        if (run.Count == 0)
        {
            return;
        }
        text.Append(_inner.Decode(run));
        run.Clear();
    }
}
