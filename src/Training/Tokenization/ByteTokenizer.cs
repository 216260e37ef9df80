using System.Text;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// A tokenizer that needs no files: UTF-8 bytes plus OpenMoE's special ids.
/// Layout: 0 pad/BOS, 1 EOS, 2 UNK, 3..258 the bytes 0x00..0xFF, sentinels counting down from
/// <c>VocabSize - 1</c>, anything between unused. With the tiny spec's V = 512 that leaves
/// 253 sentinels.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    /// <summary>Id of byte 0x00; byte b has id <c>FirstByteId + b</c>.</summary>
    public const int FirstByteId = 3;

    /// <summary>Ids below the sentinels: specials plus the 256 bytes.</summary>
    public const int ReservedIds = FirstByteId + 256;

    /// <summary>Creates a byte tokenizer whose sentinels fill <c>[ReservedIds, vocabSize)</c>.</summary>
    /// <param name="vocabSize">Total ids, at least <see cref="ReservedIds"/> + 1 (one sentinel).</param>
    /// <param name="sentinelCount">Sentinels to reserve; default all ids above the bytes.</param>
    public ByteTokenizer(int vocabSize = 512, int? sentinelCount = null)
    {
        if (vocabSize <= ReservedIds)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize),
                $"The byte tokenizer needs a vocabulary above {ReservedIds} (3 specials + 256 bytes + sentinels); got {vocabSize}.");
        }
        var count = sentinelCount ?? vocabSize - ReservedIds;
        if (count < 1 || count > vocabSize - ReservedIds)
        {
            throw new ArgumentOutOfRangeException(nameof(sentinelCount),
                $"Sentinel count must be in [1, {vocabSize - ReservedIds}] for vocabulary {vocabSize}; got {count}.");
        }
        VocabSize = vocabSize;
        SentinelCount = count;
    }

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
    public int SentinelCount { get; }

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            ids[i] = FirstByteId + bytes[i];
        }
        return ids;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Runs of byte ids are decoded together so multi-byte characters survive; invalid UTF-8
    /// becomes U+FFFD (the decoder never throws). UNK renders as U+FFFD, unused ids as
    /// <c>&lt;unused_N&gt;</c>.
    /// </remarks>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var pending = new List<byte>();
        foreach (var id in ids)
        {
            if (id >= FirstByteId && id < ReservedIds)
            {
                pending.Add((byte)(id - FirstByteId));
                continue;
            }
            Flush(pending, text);
            if (this.IsSentinel(id))
            {
                text.Append(TokenizerExtensions.SentinelText(this.SentinelIndex(id)));
            }
            else if (id == UnkId)
            {
                text.Append('\uFFFD');
            }
            else if (id != PadId && id != EosId)
            {
                text.Append("<unused_").Append(id).Append('>');
            }
        }
        Flush(pending, text);
        return text.ToString();
    }

    private static void Flush(List<byte> pending, StringBuilder text)
    {
        if (pending.Count == 0)
        {
            return;
        }
        // Encoding.UTF8 replaces invalid sequences with U+FFFD instead of throwing.
        text.Append(Encoding.UTF8.GetString(pending.ToArray()));
        pending.Clear();
    }
}
