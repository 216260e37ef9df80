using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Objectives;

/// <summary>
/// UL2 mixture of denoisers, one per example, drawn by weight. <see cref="OpenMoE"/> is the
/// mixture of DESIGN §2.5.
/// </summary>
public sealed class Ul2Mixture : IObjective
{
    private readonly double[] _weights;

    /// <summary>A mixture of <paramref name="denoisers"/> with matching non-negative weights.</summary>
    public Ul2Mixture(IReadOnlyList<(IExampleTransform Denoiser, double Weight)> denoisers)
    {
        if (denoisers.Count == 0 || denoisers.Any(d => d.Weight < 0) || denoisers.Sum(d => d.Weight) <= 0)
        {
            throw new ArgumentException("A UL2 mixture needs denoisers with non-negative weights, not all zero.", nameof(denoisers));
        }
        Denoisers = denoisers.Select(d => d.Denoiser).ToArray();
        _weights = denoisers.Select(d => d.Weight).ToArray();
    }

    /// <summary>OpenMoE's mixture: five span-corruption denoisers at 10% each, prefix LM at 50%.</summary>
    public static Ul2Mixture OpenMoE(ITokenizer tokenizer) => new(
    [
        (new SpanCorruption(tokenizer, 3, 0.15, "[NLU] "), 0.1),
        (new SpanCorruption(tokenizer, 8, 0.15, "[NLU] "), 0.1),
        (new SpanCorruption(tokenizer, 3, 0.5, "[NLG] "), 0.1),
        (new SpanCorruption(tokenizer, 8, 0.5, "[NLG] "), 0.1),
        (new SpanCorruption(tokenizer, 64, 0.5, "[NLG] "), 0.1),
        (new PrefixLm(tokenizer, "[S2S] "), 0.5),
    ]);

    /// <summary>The denoisers, in the order given.</summary>
    public IReadOnlyList<IExampleTransform> Denoisers { get; }

    /// <summary>The weights, in the order of <see cref="Denoisers"/>.</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <inheritdoc/>
    public string Name => "ul2";

    /// <inheritdoc/>
    public IExampleTransform Next(DataRng rng) => Denoisers[rng.NextWeighted(_weights)];
}
