namespace OpenMoE.Training.Data;

/// <summary>One mixture phase: source weights active from <paramref name="FromStep"/> on.</summary>
/// <param name="FromStep">First training step of the phase.</param>
/// <param name="Weights">Source name to relative weight (normalised when drawn).</param>
public sealed record MixturePhase(long FromStep, IReadOnlyDictionary<string, double> Weights);

/// <summary>
/// Source weights by step, in phases: OpenMoE lowered the code share from 52.25% to 15% late in
/// training. A source missing from a phase has weight 0 in it.
/// </summary>
public sealed class MixtureSchedule
{
    private readonly MixturePhase[] _phases;

    /// <summary>Phases with strictly increasing start steps, the first at 0.</summary>
    public MixtureSchedule(IReadOnlyList<MixturePhase> phases)
    {
        if (phases.Count == 0 || phases[0].FromStep != 0)
        {
            throw new ArgumentException("The first mixture phase must start at step 0.", nameof(phases));
        }
        for (var i = 0; i < phases.Count; i++)
        {
            if (i > 0 && phases[i].FromStep <= phases[i - 1].FromStep)
            {
                throw new ArgumentException("Mixture phases must have strictly increasing start steps.", nameof(phases));
            }
            if (phases[i].Weights.Values.Any(w => w < 0 || !double.IsFinite(w)) || phases[i].Weights.Values.Sum() <= 0)
            {
                throw new ArgumentException($"Mixture phase from step {phases[i].FromStep} needs finite non-negative weights, not all zero.", nameof(phases));
            }
        }
        _phases = [.. phases];
    }

    /// <summary>One set of weights for the whole run.</summary>
    public static MixtureSchedule Constant(IReadOnlyDictionary<string, double> weights) => new([new MixturePhase(0, weights)]);

    /// <summary>
    /// Parses a command-line schedule: phases separated by ';', each <c>step:source=weight,...</c>,
    /// e.g. <c>0:code=0.5225,prose=0.4775;5000:code=0.15,prose=0.85</c>.
    /// </summary>
    public static MixtureSchedule Parse(string text)
    {
        var phases = new List<MixturePhase>();
        foreach (var phase in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = phase.IndexOf(':');
            if (colon <= 0 || !long.TryParse(phase[..colon], System.Globalization.CultureInfo.InvariantCulture, out var step))
            {
                throw new FormatException($"Mixture phase '{phase}' must look like 'STEP:source=weight,...'.");
            }
            var weights = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var pair in phase[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = pair.Split('=', StringSplitOptions.TrimEntries);
                if (parts.Length != 2 || !double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var weight))
                {
                    throw new FormatException($"Mixture weight '{pair}' must look like 'source=0.25'.");
                }
                weights[parts[0]] = weight;
            }
            phases.Add(new MixturePhase(step, weights));
        }
        return new MixtureSchedule(phases);
    }

    /// <summary>The phases, in order.</summary>
    public IReadOnlyList<MixturePhase> Phases => _phases;

    /// <summary>The phase active at <paramref name="step"/>.</summary>
    public MixturePhase At(long step) => _phases.Last(p => p.FromStep <= step);

    /// <summary>Weights at <paramref name="step"/> for <paramref name="sources"/> in order (0 for unnamed ones).</summary>
    public double[] WeightsAt(long step, IReadOnlyList<DataSource> sources)
    {
        var phase = At(step);
        var weights = sources.Select(s => phase.Weights.GetValueOrDefault(s.Name)).ToArray();
        if (weights.Sum() <= 0)
        {
            throw new InvalidOperationException($"The mixture phase from step {phase.FromStep} gives no weight to any loaded source ({string.Join(", ", sources.Select(s => s.Name))}).");
        }
        return weights;
    }

    /// <summary>Checks every weighted name is a loaded source, so a typo fails at start, not silently.</summary>
    public void Validate(IReadOnlyList<DataSource> sources)
    {
        var names = sources.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var phase in _phases)
        {
            var unknown = phase.Weights.Keys.Where(k => !names.Contains(k)).ToArray();
            if (unknown.Length > 0)
            {
                throw new ArgumentException($"Mixture phase from step {phase.FromStep} names unknown sources: {string.Join(", ", unknown)}. Known: {string.Join(", ", names)}.");
            }
        }
    }
}
