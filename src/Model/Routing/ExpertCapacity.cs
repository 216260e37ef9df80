using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing;

/// <summary>
/// Capacity per expert and routing group, by rule. The arithmetic is done in double in the same
/// order as the Python sources so that the results agree on every input, including halves.
/// </summary>
public static class ExpertCapacity
{
    /// <summary>
    /// T5X / flaxformer (<c>moe_layers.py</c>): <c>max(int(round(cf * tokens / E)), min_capacity)</c>.
    /// Python 3's <c>round</c> on a float rounds half to even (2.5 -> 2, 3.5 -> 4), which is
    /// <see cref="MidpointRounding.ToEven"/>; there is no top-k factor.
    /// </summary>
    public static int T5x(int tokensPerGroup, int experts, double capacityFactor, int minCapacity)
    {
        double raw = capacityFactor * tokensPerGroup / experts;
        return Math.Max((int)Math.Round(raw, MidpointRounding.ToEven), minCapacity);
    }

    /// <summary>
    /// ColossalAI / HF OpenMoE (<c>MoeRouter.get_capacity</c>): <c>c = floor(k * cf * tokens / E)</c>,
    /// then <c>c += c % 2</c> (odd values go up to the next even number), then <c>max(c, min_capacity)</c>.
    /// </summary>
    public static int Cai(int tokensPerGroup, int experts, int topK, double capacityFactor, int minCapacity)
    {
        int c = (int)Math.Floor(topK * capacityFactor * tokensPerGroup / experts);
        c += c % 2;
        return Math.Max(c, minCapacity);
    }

    /// <summary>
    /// Dropless: no expert can receive more than one assignment per token of its group (top-k
    /// experts are distinct), so a capacity equal to the group size never drops anything.
    /// </summary>
    public static int Dropless(int tokensPerGroup) => tokensPerGroup;

    /// <summary>Capacity for <paramref name="rule"/>.</summary>
    public static int Compute(CapacityRule rule, int tokensPerGroup, int experts, int topK, double capacityFactor, int minCapacity) => rule switch
    {
        CapacityRule.T5x => T5x(tokensPerGroup, experts, capacityFactor, minCapacity),
        CapacityRule.Cai => Cai(tokensPerGroup, experts, topK, capacityFactor, minCapacity),
        CapacityRule.Dropless => Dropless(tokensPerGroup),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown capacity rule."),
    };
}
