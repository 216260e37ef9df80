using System.Text;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A library's vocabulary with OpenMoE's special ids around it: 0 pad/BOS, 1 EOS, 2 UNK, the library's id i at
/// <c>FirstPieceId + i</c>, then <see cref="Sentinels"/> sentinels (T5's extra ids) at the top. The ids shift
/// by 3 because OpenMoE needs pad = BOS = 0 and EOS = 1, which the library's own ids occupy; its own special
/// tokens keep an id but are not used as specials. Base of <see cref="TiktokenTextTokenizer"/> and
/// <see cref="HuggingFaceTextTokenizer"/>.
/// </summary>
public abstract class ShiftedPiecesTokenizer : ITokenizer
{
    /// <summary>Id of the library's id 0.</summary>
    public const int FirstPieceId = 3;

    /// <summary>Sentinels above the pieces (T5's extra ids).</summary>
    public const int Sentinels = 100;

    /// <summary>Takes a vocabulary of <paramref name="pieces"/> library ids.</summary>
    protected ShiftedPiecesTokenizer(int pieces)
    {
        Pieces = pieces;
        VocabSize = FirstPieceId + pieces + Sentinels;
    }

    /// <summary>Ids of the library's vocabulary (its special tokens included).</summary>
    public int Pieces { get; }

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
    public abstract int[] Encode(string text);

    /// <summary>Decodes a run of consecutive pieces, as the library's own ids.</summary>
    protected abstract string DecodePieces(List<int> libraryIds);

    /// <summary>The shifted id of library id <paramref name="libraryId"/>; an id beyond the vocabulary is a broken vocabulary.</summary>
    protected int Shift(long libraryId, string source) => libraryId >= 0 && libraryId < Pieces
        ? FirstPieceId + (int)libraryId
        : throw new InvalidDataException($"{source} produced id {libraryId}, beyond its {Pieces} ids.");

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (id >= FirstPieceId && id < FirstPieceId + Pieces)
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
            text.Append(DecodePieces(run));
            run.Clear();
        }
    }
}
