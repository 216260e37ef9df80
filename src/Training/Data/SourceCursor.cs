using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Data;

/// <summary>
/// Reading position in one source: passes over its documents in an order shuffled per epoch
/// (derived from the seed, source index and epoch, so it is recomputed on restore rather than
/// stored), and a token offset inside the current document.
/// </summary>
internal sealed class SourceCursor(DataSource source, int sourceIndex, ulong seed, ITokenizer tokenizer)
{
    private int[] _order = [];
    private int[]? _tokens;

    public long Epoch { get; private set; } = -1;
    public int DocumentIndex { get; private set; }
    public int TokenOffset { get; private set; }

    public Document Current => source.Documents[_order[DocumentIndex]];

    /// <summary>Tokens of the current document (empty documents are skipped).</summary>
    public int[] Tokens
    {
        get
        {
            EnsureStarted();
            for (var skipped = 0; ; skipped++)
            {
                _tokens ??= tokenizer.Encode(Current.Text);
                if (_tokens.Length > 0)
                {
                    return _tokens;
                }
                if (skipped > source.Documents.Count)
                {
                    throw new InvalidDataException($"Source '{source.Name}' has no non-empty documents.");
                }
                NextDocument();
            }
        }
    }

    public int Remaining => Tokens.Length - TokenOffset;

    public void Advance(int tokens)
    {
        TokenOffset += tokens;
        if (TokenOffset >= Tokens.Length)
        {
            NextDocument();
        }
    }

    public void NextDocument()
    {
        EnsureStarted();
        _tokens = null;
        TokenOffset = 0;
        DocumentIndex++;
        if (DocumentIndex >= _order.Length)
        {
            Seek(Epoch + 1, 0, 0);
        }
    }

    public void Seek(long epoch, int documentIndex, int tokenOffset)
    {
        if (source.Documents.Count == 0)
        {
            throw new InvalidDataException($"Source '{source.Name}' has no documents.");
        }
        if (epoch != Epoch)
        {
            _order = Enumerable.Range(0, source.Documents.Count).ToArray();
            DataRng.Derive(seed, ((ulong)sourceIndex << 40) ^ (ulong)epoch).Shuffle(_order.AsSpan());
        }
        Epoch = epoch;
        DocumentIndex = documentIndex;
        TokenOffset = tokenOffset;
        _tokens = null;
    }

    private void EnsureStarted()
    {
        if (Epoch < 0)
        {
            Seek(0, 0, 0);
        }
    }
}
