using System.Globalization;
using OpenMoE.Model.Routing;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// One generated routing problem: options, N tokens in sequences of length T, router logits [N, E].
/// Logits are multiples of 1/16, so two experts either tie exactly or differ by a clear margin:
/// the device and the reference must then make the same top-k choices. <see cref="Bias"/> is the expert
/// bias (multiples of 1/8, read only when the options use it; empty = zeros).
/// </summary>
public sealed record RoutingCase(RoutingOptions Options, int Tokens, int SequenceLength, float[] Logits, float[]? Bias = null)
{
    public int Experts => Options.Experts;
    public int TopK => Options.TopK;
    public float[] BiasOrZeros => Bias ?? new float[Experts];

    public RoutingResult Route() => ReferenceRouter.Route(Logits, Tokens, Options, BiasOrZeros);

    /// <summary>Scores, choices and weights of this case's rule (the reference's).</summary>
    public TopKChoices Choose() => RouterProbabilities.Choose(Logits, Tokens, Options, BiasOrZeros);

    /// <summary>Repairs divisibility after shrinking (sequence length and group size must divide N).</summary>
    public RoutingCase Normalized()
    {
        int t = Tokens % SequenceLength == 0 ? SequenceLength : 1;
        var options = Options.GroupSize is int g && Tokens % g != 0 ? Options with { GroupSize = null } : Options;
        return this with { SequenceLength = t, Options = options };
    }

    public override string ToString()
    {
        var o = Options;
        string rows = string.Join(" | ", Enumerable.Range(0, Tokens).Select(t =>
            string.Join(",", Logits.Skip(t * Experts).Take(Experts).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
        return $"N={Tokens} T={SequenceLength} E={o.Experts} K={o.TopK} rule={o.CapacityRule} cf={o.CapacityFactor} " +
               $"min={o.MinCapacity} override={o.CapacityOverride?.ToString() ?? "-"} gating={o.Gating} bpr={o.BatchPrioritized} " +
               $"group={o.GroupSize?.ToString() ?? "all"} rule={o.Rule} scoring={o.Scoring} drop={o.DropPolicy} bias={(o.ExpertBias ? string.Join(",", BiasOrZeros) : "off")} " +
               $"expertGroups={o.ExpertGroups}/{o.TopGroups} C={o.CapacityFor(o.TokensPerGroup(Tokens))} logits=[{rows}]";
    }
}
