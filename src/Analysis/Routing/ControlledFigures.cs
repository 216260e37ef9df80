namespace OpenMoE.Analysis;

/// <summary>
/// One figure of the analysis (mean over MoE layers) for the analysed model and its controls, each
/// with its bootstrap 95% interval over sequences.
/// </summary>
/// <param name="Key">Stable identifier (<see cref="ControlledFigures"/> constants).</param>
/// <param name="Name">What it is, in words.</param>
/// <param name="Trained">The analysed (final) model on the data.</param>
/// <param name="Untrained">(a) The same architecture with untrained weights on the same data.</param>
/// <param name="Shuffled">(b) The analysed model on the context-shuffled data; null where shuffling does not apply.</param>
/// <param name="Uniform">(c) What uniformly random routing gives (closed form, or for the drop rise simulated: <see cref="CapacityReplay.UniformRouting"/>); null where it is not defined.</param>
public sealed record ControlledFigure(string Key, string Name, Interval Trained, Interval Untrained, Interval? Shuffled, double? Uniform);

/// <summary>The routed rows of every pass the controls need, one <see cref="RoutingBatch.Row"/> per sequence.</summary>
/// <param name="Trained">Final model, pre-training mixture.</param>
/// <param name="Untrained">Untrained control, the same tokens.</param>
/// <param name="Shuffled">Final model, the same rows context-shuffled.</param>
/// <param name="TrainedInstruction">Final model, instruction data (empty when the data has none).</param>
/// <param name="UntrainedInstruction">Untrained control, instruction data.</param>
/// <param name="Early">The early checkpoint (latest at or before half of the final step) on the pre-training tokens, or null.</param>
/// <param name="Uniform">Uniformly random routing of the pre-training tokens under the recorded capacity (<see cref="CapacityReplay.UniformRouting"/>).</param>
/// <param name="EarlyShuffled">The early checkpoint on the context-shuffled rows of <paramref name="Shuffled"/>, or null.</param>
public sealed record ControlSamples(
    IReadOnlyList<RoutingBatch> Trained, IReadOnlyList<RoutingBatch> Untrained, IReadOnlyList<RoutingBatch> Shuffled,
    IReadOnlyList<RoutingBatch> TrainedInstruction, IReadOnlyList<RoutingBatch> UntrainedInstruction,
    IReadOnlyList<RoutingBatch>? Early, IReadOnlyList<RoutingBatch> Uniform, IReadOnlyList<RoutingBatch>? EarlyShuffled = null);

/// <summary>Computes every <see cref="ControlledFigure"/> from the recorded passes.</summary>
public static class ControlledFigures
{
    /// <summary>Figure keys.</summary>
    public const string TokenSpread = "token_spread", PositionSpread = "position_spread",
        NmiToken = "nmi_token", NmiPosition = "nmi_position", NmiPrevious = "nmi_previous",
        VocabularyInput = "vocabulary_input", VocabularyPredicted = "vocabulary_predicted",
        ConsecutiveTop1 = "consecutive_top1", ConsecutiveTopK = "consecutive_topk", CoActivationPartner = "co_activation_partner",
        MarginMedian = "margin_median", LoadCv = "load_cv", DeadShare = "dead_share",
        EarlyAgreement = "early_agreement", DropRise = "drop_rise", InstructionExcess = "instruction_excess";

    /// <summary>
    /// Every figure of <paramref name="samples"/> with <paramref name="replicates"/> bootstrap resamples
    /// (seeded by <paramref name="seed"/>, so a rerun gives the same intervals).
    /// </summary>
    public static IReadOnlyList<ControlledFigure> Compute(
        ControlSamples samples, IReadOnlyList<int> layers, int experts, int topK, int minCount, int buckets, int replicates, int seed)
    {
        int sequenceLength = samples.Trained.Count == 0 ? 1 : samples.Trained[0].SequenceLength;
        Interval Estimate(IReadOnlyList<RoutingBatch> rows, Func<IReadOnlyList<RoutingBatch>, double> statistic) =>
            Bootstrap.Estimate(rows, statistic, replicates, seed);
        double MeanOverLayers(Func<int, double> perLayer) => layers.Count == 0 ? 0 : Enumerable.Range(0, layers.Count).Average(perLayer);
        ControlledFigure Figure(string key, string name, Func<IReadOnlyList<RoutingBatch>, double> statistic, double? uniform) => new(
            key, name, Estimate(samples.Trained, statistic), Estimate(samples.Untrained, statistic), Estimate(samples.Shuffled, statistic), uniform);

        (double Token, double Position, double Baseline) Spreads(IReadOnlyList<RoutingBatch> rows)
        {
            var accumulator = new TokenSpecializationAccumulator(layers, experts, topK, sequenceLength);
            foreach (var row in rows)
                accumulator.Add(row);
            return accumulator.MeanSpreads(minCount);
        }
        double Rise(IReadOnlyList<RoutingBatch> rows) => Drops(rows) is { Length: > 0 } d ? d[^1] - d[0] : 0;
        double[] Drops(IReadOnlyList<RoutingBatch> rows)
        {
            var accumulator = new DropAccumulator("", layers, sequenceLength, buckets);
            foreach (var row in rows)
                accumulator.Add(row);
            return accumulator.Result().MeanByBucket;
        }

        var baselines = Spreads(samples.Trained);
        var uniformConsecutive = ConsecutiveExperts.Uniform(experts, topK);
        var figures = new List<ControlledFigure>
        {
            Figure(TokenSpread, "token-id spread (top-k)", r => Spreads(r).Token, baselines.Baseline),
            Figure(PositionSpread, "position-id spread (top-k)", r => Spreads(r).Position, null),
            Figure(NmiToken, "NMI(expert; token id)", r => MeanOverLayers(m => MutualInformation.Normalized(r, m, RoutingVariable.TokenId)), 0),
            Figure(NmiPosition, "NMI(expert; position)", r => MeanOverLayers(m => MutualInformation.Normalized(r, m, RoutingVariable.Position)), 0),
            Figure(NmiPrevious, "NMI(expert; previous token id)", r => MeanOverLayers(m => MutualInformation.Normalized(r, m, RoutingVariable.PreviousToken)), 0),
            Figure(VocabularyInput, "vocabulary specialisation, input tokens", r => MeanOverLayers(m => VocabularySpecialization.Of(r, m, experts, predicted: false)), (double)topK / experts),
            Figure(VocabularyPredicted, "vocabulary specialisation, predicted tokens", r => MeanOverLayers(m => VocabularySpecialization.Of(r, m, experts, predicted: true)), (double)topK / experts),
            Figure(ConsecutiveTop1, "consecutive tokens with the same top-1 expert", r => MeanOverLayers(m => ConsecutiveExperts.Of(r, m).SameTop1), uniformConsecutive.SameTop1),
            Figure(ConsecutiveTopK, "consecutive tokens sharing a top-k expert", r => MeanOverLayers(m => ConsecutiveExperts.Of(r, m).SharedTopK), uniformConsecutive.SharedTopK),
            Figure(CoActivationPartner, "strongest co-activation partner, mean max P(b|a)", r => MeanOverLayers(m => CoActivation.StrongestPartner(CoActivation.Matrix(r, m, experts))), CoActivation.Uniform(experts, topK)),
            Figure(MarginMedian, "median top-k margin", r => MeanOverLayers(m => RouterMargin.Of(r, m).Median), null),
            Figure(LoadCv, "expert load, coefficient of variation", r => MeanOverLayers(m => ExpertLoad.Of(r, m, experts).CoefficientOfVariation), 0),
            Figure(DeadShare, "share of experts below 1/(4E) of the load", r => MeanOverLayers(m => ExpertLoad.Of(r, m, experts).DeadShare), 0),
            Figure(DropRise, "drop ratio, last position bucket minus first", Rise, samples.Uniform.Count == 0 ? null : Rise(samples.Uniform)),
        };
        if (samples.TrainedInstruction.Count > 0)
        {
            double Excess(IReadOnlyList<IReadOnlyList<RoutingBatch>> groups) => Drops(groups[0])[^1] - Drops(groups[1])[^1];
            figures.Add(new ControlledFigure(InstructionExcess, "last-bucket drop ratio, instruction data minus pre-training",
                Bootstrap.Estimate([samples.TrainedInstruction, samples.Trained], Excess, replicates, seed),
                Bootstrap.Estimate([samples.UntrainedInstruction, samples.Untrained], Excess, replicates, seed),
                null, null));
        }
        if (samples.Early is { } early)
        {
            // Pairs keep each early row with the final model's routing of the same row, so a resample draws both together.
            var earlyPairs = early.Zip(samples.Trained).ToArray();
            var untrainedPairs = samples.Untrained.Zip(samples.Trained).ToArray();
            double Agreement(IReadOnlyList<(RoutingBatch, RoutingBatch)> pairs) => AgreementAccumulator.MeanAgreementOf(pairs, layers, experts);
            var chance = new AgreementAccumulator(layers, experts);
            foreach (var (mine, final) in earlyPairs)
                chance.Add(mine, final);
            // Shuffled: both checkpoints on the same context-shuffled rows, so agreement from the token id alone shows.
            var shuffledPairs = samples.EarlyShuffled?.Zip(samples.Shuffled).ToArray();
            figures.Add(new ControlledFigure(EarlyAgreement, "top-1 agreement of the early checkpoint with the final one",
                Bootstrap.Estimate(earlyPairs, Agreement, replicates, seed), Bootstrap.Estimate(untrainedPairs, Agreement, replicates, seed),
                shuffledPairs is null ? null : Bootstrap.Estimate(shuffledPairs, Agreement, replicates, seed), MeanOverLayers(chance.Chance)));
        }
        return figures;
    }
}
