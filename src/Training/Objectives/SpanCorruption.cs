using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Objectives;

/// <summary>
/// T5 span corruption as one UL2 denoiser. The noise mask follows T5's
/// <c>random_spans_noise_mask</c> (t5/data/preprocessors.py): noise tokens =
/// <c>round(n * rate)</c> clamped to [1, n-1], spans = <c>round(noise / meanSpan)</c> at least 1,
/// noise and non-noise lengths each split into that many random non-empty segments, interleaved
/// starting with non-noise. Each noise span becomes one sentinel in the inputs; the targets are
/// the sentinels each followed by the span they replaced. Rounding is half-to-even, as tf.round.
/// </summary>
/// <remarks>
/// One deliberate difference: spans are also capped at the non-noise length, so every segment is
/// non-empty (T5's segmentation breaks there). Both parts end with EOS; the inputs start with
/// the mode prefix (e.g. "[NLU] ").
/// </remarks>
public sealed class SpanCorruption : IExampleTransform
{
    private readonly ITokenizer _tokenizer;
    private readonly int[] _prefix;

    /// <summary>A denoiser with the given mean span length, noise rate and mode prefix text.</summary>
    public SpanCorruption(ITokenizer tokenizer, double meanSpan, double noiseRate, string modePrefix)
    {
        if (meanSpan < 1 || noiseRate <= 0 || noiseRate >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseRate), $"Need meanSpan >= 1 and 0 < rate < 1; got ({meanSpan}, {noiseRate}).");
        }
        _tokenizer = tokenizer;
        MeanSpan = meanSpan;
        NoiseRate = noiseRate;
        ModePrefix = modePrefix;
        _prefix = tokenizer.Encode(modePrefix);
    }

    /// <summary>Mean noise span length.</summary>
    public double MeanSpan { get; }
    /// <summary>Fraction of tokens corrupted.</summary>
    public double NoiseRate { get; }
    /// <summary>Mode prefix text prepended to the inputs.</summary>
    public string ModePrefix { get; }

    /// <inheritdoc/>
    public string Name => $"{ModePrefix.Trim()}({MeanSpan},{NoiseRate})";

    /// <inheritdoc/>
    public int MinRawLength => 2;

    /// <summary>Noise tokens for a chunk of <paramref name="length"/> tokens (length >= 2).</summary>
    public static int NoiseTokens(int length, double noiseRate) =>
        Math.Clamp((int)Math.Round(length * noiseRate, MidpointRounding.ToEven), 1, length - 1);

    /// <summary>Noise spans for a chunk of <paramref name="length"/> tokens (length >= 2).</summary>
    public static int NoiseSpans(int length, double noiseRate, double meanSpan)
    {
        var noise = NoiseTokens(length, noiseRate);
        var spans = Math.Max((int)Math.Round(noise / meanSpan, MidpointRounding.ToEven), 1);
        return Math.Min(spans, Math.Min(noise, length - noise));
    }

    /// <inheritdoc/>
    public int OutputLength(int rawLength, bool endsDocument)
    {
        if (rawLength < MinRawLength)
        {
            return int.MaxValue;
        }
        var spans = NoiseSpans(rawLength, NoiseRate, MeanSpan);
        // Each span adds one sentinel to the inputs and one to the targets; each part ends with EOS.
        return spans > _tokenizer.SentinelCount ? int.MaxValue : _prefix.Length + rawLength + 2 * spans + 2;
    }

    /// <summary>
    /// The noise mask, <c>[length]</c>, true = corrupted: T5's <c>random_spans_noise_mask</c>
    /// without the random roll.
    /// </summary>
    public static bool[] RandomSpansNoiseMask(int length, double noiseRate, double meanSpan, DataRng rng)
    {
        if (length < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "Span corruption needs at least 2 tokens.");
        }
        var noise = NoiseTokens(length, noiseRate);
        var spans = NoiseSpans(length, noiseRate, meanSpan);
        var noiseLengths = RandomSegmentation(noise, spans, rng);
        var keepLengths = RandomSegmentation(length - noise, spans, rng);
        var mask = new bool[length];
        var position = 0;
        for (var s = 0; s < spans; s++)
        {
            position += keepLengths[s];
            for (var i = 0; i < noiseLengths[s]; i++)
            {
                mask[position++] = true;
            }
        }
        return mask;
    }

    /// <summary>
    /// Splits <paramref name="items"/> into <paramref name="segments"/> non-empty parts uniformly
    /// at random: shuffle (segments-1) ones among (items-1) slots, as T5's _random_segmentation.
    /// </summary>
    public static int[] RandomSegmentation(int items, int segments, DataRng rng)
    {
        var firstInSegment = new int[items - 1];
        for (var i = 0; i < segments - 1; i++)
        {
            firstInSegment[i] = 1;
        }
        rng.Shuffle(firstInSegment.AsSpan());
        var lengths = new int[segments];
        var segment = 0;
        lengths[0] = 1;
        foreach (var starts in firstInSegment)
        {
            segment += starts;
            lengths[segment]++;
        }
        return lengths;
    }

    /// <inheritdoc/>
    public TrainingExample Apply(ReadOnlySpan<int> raw, bool endsDocument, DataRng rng)
    {
        var mask = RandomSpansNoiseMask(raw.Length, NoiseRate, MeanSpan, rng);
        var inputs = new List<int>(_prefix.Length + raw.Length + 1);
        var targets = new List<int>();
        inputs.AddRange(_prefix);
        var span = -1;
        for (var i = 0; i < raw.Length; i++)
        {
            if (!mask[i])
            {
                inputs.Add(raw[i]);
                continue;
            }
            if (i == 0 || !mask[i - 1])
            {
                span++;
                var sentinel = _tokenizer.SentinelId(span);
                inputs.Add(sentinel);
                targets.Add(sentinel);
            }
            targets.Add(raw[i]);
        }
        inputs.Add(_tokenizer.EosId);
        targets.Add(_tokenizer.EosId);
        return new TrainingExample([.. inputs], [.. targets], Name);
    }
}
