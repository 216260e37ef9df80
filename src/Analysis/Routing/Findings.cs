using System.Globalization;

namespace OpenMoE.Analysis;

/// <summary>
/// Turns the figures into verdicts on the paper's three findings, with rules stated in the text so a
/// reader can check them:
/// <list type="bullet">
/// <item>context-independent specialization reproduces when, averaged over MoE layers, the token-id
/// spread is at least 1.5x the position-id spread and at least 2x its uniform baseline;</item>
/// <item>early routing learning reproduces when the latest checkpoint at no more than half of the
/// final step already agrees with the final top-1 expert on at least half of the tokens and at least
/// twice as often as chance (needs two or more checkpoints with steps);</item>
/// <item>drop towards the end reproduces when the last position bucket drops more than the first on
/// the pre-training mixture and the instruction data drops more than it in the last bucket
/// (not measurable on a dropless spec or when nothing drops).</item>
/// </list>
/// </summary>
public static class Findings
{
    /// <summary>Verdict texts.</summary>
    public const string Reproduces = "reproduces", DoesNotReproduce = "does not reproduce", Partly = "partly reproduces", NotMeasured = "not measured";

    /// <summary>The three findings, in the paper's order.</summary>
    public static IReadOnlyList<Finding> From(IReadOnlyList<TokenSpecializationLayer> specialization, EarlyLearning early, DropAnalysis drops, string instructionDomain) =>
        [Specialization(specialization), EarlyLearning(early), DropTowardsTheEnd(drops, instructionDomain)];

    private static Finding Specialization(IReadOnlyList<TokenSpecializationLayer> layers)
    {
        const string name = "Context-independent specialization";
        var counted = layers.Where(l => l.TokenIds > 0).ToArray();
        if (counted.Length == 0)
            return new(name, NotMeasured, "No token id was seen often enough; stream more batches or lower --min-count.");
        double token = counted.Average(l => l.TokenSpreadTopK), position = counted.Average(l => l.PositionSpreadTopK);
        double baseline = counted.Average(l => l.TokenBaseline), positionBaseline = counted.Average(l => l.PositionBaseline);
        bool holds = token >= 1.5 * position && token >= 2 * baseline;
        return new(name, holds ? Reproduces : DoesNotReproduce, F(
            $"Averaged over the MoE layers, a token id's expert distribution has a spread of {token:F3} (0 = spread evenly over the experts, 1 = always the same experts; uniformly random routing would give about {baseline:F3} with this much data), ") + F(
            $"while a position's has {position:F3} (random: {positionBaseline:F3}). ") +
            (holds
                ? "Which expert a token goes to is decided mostly by what the token is, not where it stands: the paper's context-independent specialization."
                : "The rule for a reproduction (token spread at least 1.5x the position spread and 2x its random baseline) is not met."));
    }

    private static Finding EarlyLearning(EarlyLearning early)
    {
        const string name = "Early routing learning";
        if (!early.Available)
            return new(name, NotMeasured, "Only one model was analysed; pass several checkpoints of one run (--checkpoints A B C) to compare routing over training.");
        var checkpoints = early.Points.GroupBy(p => p.Checkpoint).OrderBy(g => g.Key).ToArray();
        long? finalStep = checkpoints[^1].First().Step;
        var earlyOnes = checkpoints[..^1].Where(g => finalStep is > 0 && g.First().Step is long s && s <= finalStep / 2).ToArray();
        if (earlyOnes.Length == 0)
            return new(name, NotMeasured, "No checkpoint with a known step at or before half of the final step; include an early checkpoint.");
        // The latest checkpoint within the first half: "early" means by half of training, not at step 1.
        var earliest = earlyOnes[^1];
        double agreement = earliest.Average(p => p.Agreement), chance = earliest.Average(p => p.Chance);
        long step = earliest.First().Step!.Value;
        bool holds = agreement >= 0.5 && agreement >= 2 * chance;
        return new(name, holds ? Reproduces : DoesNotReproduce, F(
            $"At step {step} of {finalStep} ({100.0 * step / finalStep:F0}% of training), {100 * agreement:F1}% of tokens already go to the same top-1 expert as at the end (chance: {100 * chance:F1}%). ") +
            (holds
                ? "The token-to-expert assignment is learned early and then barely changes, as the paper reports."
                : "The rule for a reproduction (at least 50% agreement and twice chance by half of training) is not met: routing still changes late in this run."));
    }

    private static Finding DropTowardsTheEnd(DropAnalysis drops, string instructionDomain)
    {
        const string name = "Drop towards the end";
        if (drops.Dropless)
            return new(name, NotMeasured, "This spec routes without a capacity limit (dropless): no token is ever dropped, so drop-towards-the-end cannot occur.");
        var pretrain = drops.DataSets[0];
        if (drops.DataSets.All(d => d.DropRatio == 0))
            return new(name, NotMeasured, F($"Nothing was dropped at capacity factor {drops.CapacityFactor} ({drops.CapacityRule} rule, capacity {drops.Capacity} per expert for {drops.TokensPerGroup} tokens): lower --capacity-factor to see which tokens would drop first."));
        double first = pretrain.MeanByBucket[0], last = pretrain.MeanByBucket[^1];
        bool rises = last > first;
        var instruction = drops.DataSets.Skip(1).FirstOrDefault();
        string capacity = F($"({drops.CapacityRule} capacity rule, factor {drops.CapacityFactor}, {drops.Capacity} slots per expert for {drops.TokensPerGroup} tokens)");
        string text = F($"On the pre-training mixture {capacity}, {100 * first:F1}% of the first positions' expert assignments are dropped against {100 * last:F1}% of the last positions'. ");
        if (instruction is null)
            return new(name, rises ? Partly : DoesNotReproduce, text + F($"The data has no '{instructionDomain}' domain, so the comparison with instruction data was not made."));
        double instructionLast = instruction.MeanByBucket[^1];
        bool more = instructionLast > last;
        text += F($"On the {instruction.Name} data the last positions lose {100 * instructionLast:F1}%. ");
        text += (rises, more) switch
        {
            (true, true) => "Later tokens are dropped more, and more so on instruction-like data: because every token's first choice is placed before any second choice, in token order, the tokens at the end find their experts full.",
            (true, false) => "Later tokens are dropped more, but not more on instruction-like data than on pre-training data.",
            (false, true) => "Instruction-like data drops more at the end, but the pre-training mixture does not drop more late than early.",
            _ => "Neither part of the paper's observation shows at this scale.",
        };
        return new(name, (rises, more) switch { (true, true) => Reproduces, (false, false) => DoesNotReproduce, _ => Partly }, text);
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
