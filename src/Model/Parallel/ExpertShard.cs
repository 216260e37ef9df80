using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Parallel;

/// <summary>The routed experts one rank holds: <c>[First, First + Count)</c> of every MoE layer.</summary>
/// <param name="First">First expert held.</param>
/// <param name="Count">Number of experts held.</param>
public readonly record struct ExpertShard(int First, int Count)
{
    /// <summary>All <paramref name="experts"/> experts (one process).</summary>
    public static ExpertShard All(int experts) => new(0, experts);

    /// <summary>One past the last expert held.</summary>
    public int End => First + Count;

    /// <summary>True when <paramref name="expert"/> is held.</summary>
    public bool Contains(int expert) => expert >= First && expert < End;

    /// <summary>True when a rank with this shard holds <paramref name="parameter"/> (whole, or its share of an expert stack): every tensor but other experts' own.</summary>
    public bool Holds(ParameterInfo parameter) => parameter.Expert < 0 || Contains(parameter.Expert);

    /// <summary>
    /// The values [From, From + Count) this shard holds of a tensor of <paramref name="elements"/> stacked
    /// expert-major over <paramref name="experts"/> experts (an expert stack, or its optimizer state).
    /// </summary>
    public (long From, long Count) ShareOf(long elements, int experts)
    {
        long per = elements / experts;
        return (per * First, per * Count);
    }

    /// <summary>True when this shard holds every one of <paramref name="experts"/> experts.</summary>
    public bool IsAll(int experts) => First == 0 && Count == experts;

    /// <inheritdoc />
    public override string ToString() => Count == 1 ? $"expert {First}" : $"experts {First}-{End - 1}";
}
