using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Objectives;

/// <summary>
/// Which objective trains at which step: a list of phases, each active from its start step until
/// the next one starts. OpenMoE: UL2, then plain causal LM.
/// </summary>
public sealed class ObjectiveSchedule
{
    private readonly (long FromStep, IObjective Objective)[] _phases;

    /// <summary>Phases sorted by start step; the first must start at step 0.</summary>
    public ObjectiveSchedule(IReadOnlyList<(long FromStep, IObjective Objective)> phases)
    {
        if (phases.Count == 0 || phases[0].FromStep != 0)
        {
            throw new ArgumentException("The first objective phase must start at step 0.", nameof(phases));
        }
        for (var i = 1; i < phases.Count; i++)
        {
            if (phases[i].FromStep <= phases[i - 1].FromStep)
            {
                throw new ArgumentException("Objective phases must have strictly increasing start steps.", nameof(phases));
            }
        }
        _phases = [.. phases];
    }

    /// <summary>One objective for the whole run.</summary>
    public static ObjectiveSchedule Constant(IObjective objective) => new([(0, objective)]);

    /// <summary>
    /// Parses the trainer's <c>--objective</c> value: "ul2", "causal", or "ul2-then-causal"
    /// (switching at <paramref name="switchStep"/>).
    /// </summary>
    public static ObjectiveSchedule Parse(string name, ITokenizer tokenizer, long switchStep) => name switch
    {
        "ul2" => Constant(Ul2Mixture.OpenMoE(tokenizer)),
        "causal" => Constant(new CausalLm(tokenizer)),
        "ul2-then-causal" when switchStep > 0 => new([(0, Ul2Mixture.OpenMoE(tokenizer)), (switchStep, new CausalLm(tokenizer))]),
        "ul2-then-causal" => throw new ArgumentOutOfRangeException(nameof(switchStep), "ul2-then-causal needs a switch step above 0."),
        _ => throw new ArgumentException($"Unknown objective '{name}'; use ul2, causal or ul2-then-causal.", nameof(name)),
    };

    /// <summary>The objective active at <paramref name="step"/>.</summary>
    public IObjective At(long step)
    {
        var current = _phases[0].Objective;
        foreach (var (fromStep, objective) in _phases)
        {
            if (fromStep <= step)
            {
                current = objective;
            }
        }
        return current;
    }
}
