using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Objectives;

/// <summary>
/// UL2's S-denoiser: split the chunk at a uniformly random point p in [1, n-1]; inputs are the
/// mode prefix, the first p tokens and EOS; targets are the rest and EOS.
/// </summary>
public sealed class PrefixLm(ITokenizer tokenizer, string modePrefix) : IExampleTransform
{
    private readonly int[] _prefix = tokenizer.Encode(modePrefix);

    /// <summary>Mode prefix text prepended to the inputs.</summary>
    public string ModePrefix => modePrefix;

    /// <inheritdoc/>
    public string Name => $"{modePrefix.Trim()}(prefix-lm)";

    /// <inheritdoc/>
    public int MinRawLength => 2;

    /// <inheritdoc/>
    public int OutputLength(int rawLength, bool endsDocument) =>
        rawLength < MinRawLength ? int.MaxValue : _prefix.Length + rawLength + 2;

    /// <inheritdoc/>
    public TrainingExample Apply(ReadOnlySpan<int> raw, bool endsDocument, DataRng rng)
    {
        var split = rng.NextInclusive(1, raw.Length - 1);
        int[] inputs = [.. _prefix, .. raw[..split], tokenizer.EosId];
        int[] targets = [.. raw[split..], tokenizer.EosId];
        return new TrainingExample(inputs, targets, Name);
    }
}
