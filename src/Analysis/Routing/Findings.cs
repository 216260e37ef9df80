using System.Globalization;

namespace OpenMoE.Analysis;

/// <summary>
/// Turns the controlled figures into verdicts on the paper's three findings. One rule for all of them
/// (<see cref="Rule"/>): a finding reproduces only when its figure on the analysed model lies beyond
/// the untrained control's bootstrap 95% interval, on the side the paper predicts, and its own
/// threshold holds:
/// <list type="bullet">
/// <item>context-independent specialization: token-id spread above the untrained control's, and at
/// least 1.5x the position-id spread and 2x its uniform baseline;</item>
/// <item>early routing learning: the latest checkpoint at no more than half of the final step agrees
/// with the final top-1 expert above the untrained control's agreement, on at least half of the tokens
/// and at least twice as often as chance;</item>
/// <item>drop towards the end: the last position bucket drops more than the first (interval above 0)
/// by more than in the untrained control; and the instruction data drops more than the pre-training
/// mixture in the last bucket (interval above 0) by more than in the untrained control. Both:
/// reproduces; one: partly.</item>
/// </list>
/// The context-shuffled and uniform controls are reported next to each figure but are not part of the rule.
/// </summary>
public static class Findings
{
    /// <summary>Verdict texts.</summary>
    public const string Reproduces = "reproduces", DoesNotReproduce = "does not reproduce", Partly = "partly reproduces", NotMeasured = "not measured";

    /// <summary>The verdict rule as the report states it.</summary>
    public const string Rule =
        "A finding reproduces only when its figure on the analysed model lies beyond the bootstrap 95% interval of the untrained control " +
        "(the same architecture with untrained weights, on the same tokens), on the side the paper predicts: the analysed model's interval " +
        "lies entirely above the control's. Each finding also keeps its own threshold (below). The context-shuffled and uniform controls are " +
        "reported next to every figure but do not enter the verdict.";

    /// <summary>The three findings, in the paper's order.</summary>
    public static IReadOnlyList<Finding> From(IReadOnlyList<ControlledFigure> figures, EarlyLearning early, DropAnalysis drops, string instructionDomain)
    {
        var byKey = figures.ToDictionary(f => f.Key, StringComparer.Ordinal);
        return [Specialization(byKey), EarlyLearning(byKey, early), DropTowardsTheEnd(byKey, drops, instructionDomain)];
    }

    private static Finding Specialization(IReadOnlyDictionary<string, ControlledFigure> figures)
    {
        const string name = "Context-independent specialization";
        var token = figures[ControlledFigures.TokenSpread];
        var position = figures[ControlledFigures.PositionSpread];
        if (token.Trained.Value == 0 && token.Uniform is 0)
            return new(name, NotMeasured, "No token id was seen often enough; stream more batches or lower --min-count.");
        double baseline = token.Uniform ?? 0;
        bool threshold = token.Trained.Value >= 1.5 * position.Trained.Value && token.Trained.Value >= 2 * baseline;
        bool learned = token.Trained.Above(token.Untrained);
        string text = F($"Averaged over the MoE layers, a token id's expert distribution has a spread of {I(token.Trained)} (0 = spread evenly over the experts, 1 = always the same experts; uniformly random routing would give about {baseline:F3} with this much data), ") +
            F($"a position's {I(position.Trained)}. The untrained control gives {I(token.Untrained)} for token ids; on context-shuffled data the analysed model gives {I(token.Shuffled!)}. ");
        text += (threshold, learned) switch
        {
            (true, true) => "Token ids decide the experts more than positions do, and more than in the untrained model: the specialization is learned, as the paper reports.",
            (true, false) => "Token ids decide the experts more than positions do, but no more than in the same architecture untrained: the measure, not training, produces the specialization, so it does not count as a reproduction.",
            (false, true) => "The token spread is above the untrained control's, but the threshold (1.5x the position spread and 2x the random baseline) is not met.",
            _ => "Neither the threshold (1.5x the position spread and 2x the random baseline) nor a difference from the untrained control holds.",
        };
        return new(name, threshold && learned ? Reproduces : DoesNotReproduce, text);
    }

    private static Finding EarlyLearning(IReadOnlyDictionary<string, ControlledFigure> figures, EarlyLearning early)
    {
        const string name = "Early routing learning";
        if (!early.Available)
            return new(name, NotMeasured, "Only one model was analysed; pass several checkpoints of one run (--checkpoints A B C) to compare routing over training.");
        if (!figures.TryGetValue(ControlledFigures.EarlyAgreement, out var agreement) || early.EarlyCheckpoint is not int index)
            return new(name, NotMeasured, "No checkpoint with a known step at or before half of the final step; include an early checkpoint.");
        var point = early.Points.First(p => p.Checkpoint == index);
        long step = point.Step!.Value, finalStep = early.Points[^1].Step!.Value;
        double chance = agreement.Uniform ?? 0;
        bool threshold = agreement.Trained.Value >= 0.5 && agreement.Trained.Value >= 2 * chance;
        bool learned = agreement.Trained.Above(agreement.Untrained);
        string text = F($"At step {step} of {finalStep} ({100.0 * step / finalStep:F0}% of training), {P(agreement.Trained)} of tokens already go to the same top-1 expert as at the end (chance: {100 * chance:F1}%); ") +
            F($"the untrained initialisation agrees with the end on {P(agreement.Untrained)}") +
            (agreement.Shuffled is { } shuffled ? F($", and on context-shuffled data the early checkpoint agrees with the final one on {P(shuffled)}. ") : ". ");
        text += (threshold, learned) switch
        {
            (true, true) => "The token-to-expert assignment is learned early and then barely changes, as the paper reports.",
            (true, false) => "The early checkpoint agrees with the end, but no more than the untrained initialisation does: the assignment is inherited from the initialisation, not learned early.",
            _ => "The rule for a reproduction (at least 50% agreement, twice chance, and above the untrained control) is not met: routing still changes late in this run.",
        };
        return new(name, threshold && learned ? Reproduces : DoesNotReproduce, text);
    }

    private static Finding DropTowardsTheEnd(IReadOnlyDictionary<string, ControlledFigure> figures, DropAnalysis drops, string instructionDomain)
    {
        const string name = "Drop towards the end";
        if (drops.Dropless)
            return new(name, NotMeasured, "This spec routes without a capacity limit (dropless): no token is ever dropped, so drop-towards-the-end cannot occur.");
        if (drops.DataSets.All(d => d.DropRatio == 0))
            return new(name, NotMeasured, F($"Nothing was dropped at capacity factor {drops.CapacityFactor} ({drops.CapacityRule} rule, capacity {drops.Capacity} per expert for {drops.TokensPerGroup} tokens): lower --capacity-factor to see which tokens would drop first."));
        var rise = figures[ControlledFigures.DropRise];
        var pretrain = drops.DataSets[0];
        bool rises = rise.Trained.Low > 0 && rise.Trained.Above(rise.Untrained);
        string capacity = F($"({drops.CapacityRule} capacity rule, factor {drops.CapacityFactor}, {drops.Capacity} slots per expert for {drops.TokensPerGroup} tokens)");
        string text = F($"On the pre-training mixture {capacity}, {100 * pretrain.MeanByBucket[0]:F1}% of the first positions' expert assignments are dropped against {100 * pretrain.MeanByBucket[^1]:F1}% of the last positions': a rise of {P(rise.Trained)} ") +
            F($"(untrained control: {P(rise.Untrained)}; context-shuffled data: {P(rise.Shuffled!)}). ");
        if (!figures.TryGetValue(ControlledFigures.InstructionExcess, out var excess))
            return new(name, rises ? Partly : DoesNotReproduce, text + F($"The data has no '{instructionDomain}' domain, so the comparison with instruction data was not made."));
        bool more = excess.Trained.Low > 0 && excess.Trained.Above(excess.Untrained);
        text += F($"The {instructionDomain} data's last bucket drops {P(excess.Trained)} more than the pre-training mixture's (untrained control: {P(excess.Untrained)}). ");
        text += (rises, more) switch
        {
            (true, true) => "Later tokens are dropped more, and more so on instruction-like data, beyond the untrained control on both counts.",
            (true, false) => "Later tokens are dropped more than in the untrained control, but instruction data does not drop more beyond the intervals.",
            (false, true) => "Instruction data drops more at the end beyond the untrained control, but the rise towards the end does not exceed the control's.",
            _ => "Neither part exceeds the untrained control: what drops late here follows from the capacity policy, not from what training did to the router.",
        };
        return new(name, (rises, more) switch { (true, true) => Reproduces, (false, false) => DoesNotReproduce, _ => Partly }, text);
    }

    internal static string I(Interval i) => F($"{i.Value:F3} [{i.Low:F3}, {i.High:F3}]");

    private static string P(Interval i) => F($"{100 * i.Value:F1}% [{100 * i.Low:F1}, {100 * i.High:F1}]");

    internal static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
