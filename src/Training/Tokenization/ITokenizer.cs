namespace OpenMoE.Training.Tokenization;

/// <summary>
/// Text to token ids and back, plus the special ids the training objectives need.
/// Ids are in <c>[0, VocabSize)</c>; the model's embedding may be larger (OpenMoE pads the
/// vocabulary to a multiple of 128), never smaller.
/// </summary>
public interface ITokenizer
{
    /// <summary>Ids this tokenizer can produce, sentinels included (the sentinels sit at the top).</summary>
    int VocabSize { get; }

    /// <summary>Padding id; OpenMoE also uses it as BOS (id 0).</summary>
    int PadId { get; }

    /// <summary>Beginning-of-sequence id (equal to <see cref="PadId"/> for OpenMoE's tokenizers).</summary>
    int BosId { get; }

    /// <summary>End-of-sequence id.</summary>
    int EosId { get; }

    /// <summary>Id for text the tokenizer cannot represent (never produced by the byte tokenizer).</summary>
    int UnkId { get; }

    /// <summary>How many sentinel ids exist: sentinel n is <c>VocabSize - 1 - n</c> for n in [0, SentinelCount).</summary>
    int SentinelCount { get; }

    /// <summary>Encodes text without BOS/EOS. Never returns a sentinel id.</summary>
    int[] Encode(string text);

    /// <summary>Decodes ids to text; sentinels render as <c>&lt;extra_id_N&gt;</c>, pad/BOS/EOS as nothing.</summary>
    string Decode(ReadOnlySpan<int> ids);
}

/// <summary>Sentinel arithmetic shared by every tokenizer (T5/UL2 convention, DESIGN §2.5).</summary>
public static class TokenizerExtensions
{
    /// <summary>Id of sentinel <paramref name="index"/>: <c>VocabSize - 1 - index</c>.</summary>
    public static int SentinelId(this ITokenizer tokenizer, int index)
    {
        if ((uint)index >= (uint)tokenizer.SentinelCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index),
                $"Sentinel {index} does not exist: this tokenizer has {tokenizer.SentinelCount} sentinels.");
        }
        return tokenizer.VocabSize - 1 - index;
    }

    /// <summary>True iff <paramref name="id"/> is one of the sentinel ids.</summary>
    public static bool IsSentinel(this ITokenizer tokenizer, int id) =>
        id < tokenizer.VocabSize && id >= tokenizer.VocabSize - tokenizer.SentinelCount;

    /// <summary>Sentinel index of <paramref name="id"/> (inverse of <see cref="SentinelId"/>).</summary>
    public static int SentinelIndex(this ITokenizer tokenizer, int id) => tokenizer.VocabSize - 1 - id;

    /// <summary>The text form of sentinel <paramref name="index"/>, as T5 tokenizers print it.</summary>
    public static string SentinelText(int index) => $"<extra_id_{index}>";
}
