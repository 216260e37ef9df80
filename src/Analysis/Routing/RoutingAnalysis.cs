using System.Diagnostics;
using OpenMoE.Training.Data;
using OpenMoE.Model.Network;
using OpenMoE.Training.Objectives;
using OpenMoE.Model.Specs;
using OpenMoE.Training.Tokenization;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Analysis;

/// <summary>
/// Runs the routing analysis (DESIGN §2.7) of one or more models of a run on the same data, with
/// its controls:
/// <list type="number">
/// <item>the final model on the pre-training mixture: token-id, position-id, domain, language and
/// position-bucket specialization, drops and the measures beyond the paper; the same rows again with
/// their tokens permuted within each sequence (the context-shuffled control);</item>
/// <item>the final model on the held-out instruction domain (when the data has one): drops;</item>
/// <item>the untrained control (the same spec, randomly initialised; the run's own initialisation when
/// its seed is known) on the same pre-training and instruction rows;</item>
/// <item>every earlier model on the same pre-training rows: agreement with the final model's routing.</item>
/// </list>
/// The routing of these passes is kept in memory (N·K expert ids and N·E probabilities per MoE layer
/// and pass, no activations): bootstrap intervals resample whole sequences, so the per-sequence routing
/// must be at hand; one model is open at a time. Data is packed with the causal-LM objective (raw
/// document text, no UL2 sentinels).
/// </summary>
public static class RoutingAnalysis
{
    /// <summary>Name of the pre-training data set in the report.</summary>
    public const string PretrainingDataSet = "pre-training mixture";

    /// <summary>
    /// Analyses <paramref name="models"/> (checkpoints of one run; ordered by step when every step is
    /// known, else as given; the last is the final model) on <paramref name="data"/>.
    /// </summary>
    public static AnalysisReport Run(
        IReadOnlyList<AnalysisModelSource> models, DataSpec data, string dataLabel, ITokenizer tokenizer,
        AnalysisOptions options, ComputeDevice device, Action<AnalysisProgress>? progress = null)
    {
        if (models.Count == 0)
            throw new ArgumentException("The analysis needs at least one model.");
        var clock = Stopwatch.StartNew();
        var ordered = models.All(m => m.Step is not null) ? models.OrderBy(m => m.Step).ToArray() : models.ToArray();
        var final = ordered[^1];
        var spec = final.Spec;
        AnalysisModelSource.CheckSameSpec(ordered, spec);
        var config = spec.Config;
        options.Validated(config.ContextLength);
        if (tokenizer.VocabSize > config.Vocab)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} ids but {spec.Name} has a vocabulary of {config.Vocab}.");

        var layers = config.MoeLayers;
        int experts = config.Experts, topK = config.TopK;
        if (layers.Count == 0)
            throw new ArgumentException($"{spec.Name} has no MoE layer: there is no routing to analyse.");
        double capacityFactor = options.CapacityFactor ?? config.TrainCapacityFactor;
        var forwardOptions = new ForwardOptions { CapacityFactor = capacityFactor };
        var instructionWeights = InstructionWeights(data, options.InstructionDomain);
        var untrained = AnalysisModelSource.RandomInit(spec, final.InitSeed ?? options.ControlSeed);
        int? earlyIndex = EarlyCheckpoint(ordered);
        int instructionPasses = instructionWeights is null ? 0 : 1;
        int total = options.Batches * (ordered.Length + 2 + 2 * instructionPasses + (earlyIndex is null ? 0 : 1));
        int done = 0;
        void Step(string stage) => progress?.Invoke(new AnalysisProgress(++done, total, stage));

        var tokens = new TokenSpecializationAccumulator(layers, experts, topK, options.SequenceLength);
        var pipeline = Pipeline(data, data.Mixture, tokenizer, options);
        var domains = LabelShareAccumulator.ByDomain(pipeline.Domains, layers, experts);
        var languages = LabelShareAccumulator.ByLanguage(pipeline.Languages, layers, experts);
        var positions = LabelShareAccumulator.ByPosition(options.SequenceLength, options.PositionBuckets, layers, experts);
        var pretrainDrops = new DropAccumulator(PretrainingDataSet, layers, options.SequenceLength, options.PositionBuckets);
        var instructionDrops = new DropAccumulator(options.InstructionDomain, layers, options.SequenceLength, options.PositionBuckets);
        var finalBatches = new List<RoutingBatch>();
        var shuffledBatches = new List<RoutingBatch>();
        var instructionBatches = new List<RoutingBatch>();
        long textTokens = 0;
        PackedBatch[] pretrainData = Draw(pipeline, options);
        PackedBatch[] instructionData = instructionWeights is null ? [] : Draw(Pipeline(data, MixtureSchedule.Constant(instructionWeights), tokenizer, options), options);

        using (var model = final.Open(device))
        {
            for (int b = 0; b < pretrainData.Length; b++)
            {
                var batch = Route(model, pretrainData[b], forwardOptions);
                tokens.Add(batch);
                domains.Add(batch);
                languages.Add(batch);
                positions.Add(batch);
                pretrainDrops.Add(batch);
                finalBatches.Add(batch);
                textTokens += Enumerable.Range(0, batch.Tokens).Count(batch.IsText);
                Step($"{final.Label}: {PretrainingDataSet}");
                shuffledBatches.Add(RouteShuffled(model, pretrainData[b], b, options, forwardOptions));
                Step($"{final.Label}: context-shuffled");
            }
            foreach (var packed in instructionData)
            {
                var batch = Route(model, packed, forwardOptions);
                instructionDrops.Add(batch);
                instructionBatches.Add(batch);
                Step($"{final.Label}: {options.InstructionDomain}");
            }
        }

        var untrainedBatches = new List<RoutingBatch>();
        var untrainedInstructionBatches = new List<RoutingBatch>();
        using (var model = untrained.Open(device))
        {
            foreach (var packed in pretrainData)
            {
                untrainedBatches.Add(Route(model, packed, forwardOptions));
                Step($"untrained control: {PretrainingDataSet}");
            }
            foreach (var packed in instructionData)
            {
                untrainedInstructionBatches.Add(Route(model, packed, forwardOptions));
                Step($"untrained control: {options.InstructionDomain}");
            }
        }

        var chosen = tokens.TokenFrequencies.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Take(options.ChosenTokens).Select(p => p.Key).ToArray();
        var distributions = chosen.ToDictionary(id => id, _ => layers.Select(_ => new List<double[]>()).ToArray());
        var points = new List<AgreementPoint>();
        List<RoutingBatch>? earlyBatches = null, earlyShuffledBatches = null;
        for (int c = 0; c < ordered.Length - 1; c++)
        {
            var checkpoint = ordered[c];
            var agreement = new AgreementAccumulator(layers, experts);
            var counts = new TokenSpecializationAccumulator(layers, experts, topK, options.SequenceLength);
            var kept = c == earlyIndex ? earlyBatches = [] : null;
            using (var model = checkpoint.Open(device))
            {
                for (int b = 0; b < pretrainData.Length; b++)
                {
                    var batch = Route(model, pretrainData[b], forwardOptions);
                    agreement.Add(batch, finalBatches[b]);
                    counts.Add(batch);
                    kept?.Add(batch);
                    Step(checkpoint.Label);
                }
                if (kept is not null)
                {
                    earlyShuffledBatches = [];
                    for (int b = 0; b < pretrainData.Length; b++)
                    {
                        earlyShuffledBatches.Add(RouteShuffled(model, pretrainData[b], b, options, forwardOptions));
                        Step($"{checkpoint.Label}: context-shuffled");
                    }
                }
            }
            points.AddRange(agreement.Results(c, Label(checkpoint), m => AgreementAccumulator.TokenIdAgreement(
                counts.MostFrequentTop1(m, options.MinCount), tokens.MostFrequentTop1(m, options.MinCount))));
            AddDistributions(counts);
        }
        AddDistributions(tokens);
        if (ordered.Length > 1)
            points.AddRange(FinalPoints(tokens, layers, experts, ordered.Length - 1, Label(final)));

        var drops = new DropAnalysis(
            config.CapacityRule == CapacityRule.Dropless, config.CapacityRule.ToString(), capacityFactor, config.MinCapacity,
            pretrainDrops.LastTokens, pretrainDrops.LastCapacity, options.PositionBuckets,
            instructionWeights is null ? [pretrainDrops.Result()] : [pretrainDrops.Result(), instructionDrops.Result()]);
        var specialization = tokens.Results(options.MinCount, tokenizer, options.TopTokensPerExpert);
        var labels = new LabelSpecialization(domains.Results(), languages.Results(), positions.Results());
        var early = new EarlyLearning(ordered.Length > 1, points,
            chosen.SelectMany(id => layers.Select((layer, m) => new TokenOverTime(id, TokenText.Of(tokenizer, id), layer, [.. distributions[id][m]]))).ToArray(),
            earlyIndex);

        var samples = new ControlSamples(Rows(finalBatches), Rows(untrainedBatches), Rows(shuffledBatches),
            Rows(instructionBatches), Rows(untrainedInstructionBatches), earlyBatches is null ? null : Rows(earlyBatches),
            Rows(CapacityReplay.UniformRouting(finalBatches, config.CapacityRule, capacityFactor, config.MinCapacity, unchecked((int)options.Seed))),
            earlyShuffledBatches is null ? null : Rows(earlyShuffledBatches));
        var figures = ControlledFigures.Compute(samples, layers, experts, topK, options.MinCount, options.PositionBuckets, options.Replicates, unchecked((int)options.Seed));
        var controls = new ControlRun(untrained.Label, final.InitSeed is not null, options.Seed, options.Replicates, samples.Trained.Count, Findings.Rule);
        var measures = MeasureLayer.Of(samples.Trained, layers, experts);
        IReadOnlyList<ReplayDataSet> replay = options.Replay
            ? new[] { (PretrainingDataSet, finalBatches), (options.InstructionDomain, instructionBatches) }
                .Where(set => set.Item2.Count > 0)
                .Select(set => new ReplayDataSet(set.Item1, (config.CapacityRule == CapacityRule.Dropless ? CapacityRule.T5x : config.CapacityRule).ToString(),
                    CapacityReplay.Run(set.Item2, config.CapacityRule, config.MinCapacity, options.ReplayFactors, options.PositionBuckets))).ToArray()
            : [];

        var run = new RunDescription(
            spec.Name, ordered.Select(Label).ToArray(), device.Description, dataLabel, TokenizerName(tokenizer),
            options.Batches, options.BatchSize, options.SequenceLength, options.Seed, textTokens,
            experts, topK, layers, clock.Elapsed.TotalSeconds);
        return new AnalysisReport(run, specialization, labels, early, drops, Findings.From(figures, early, drops, options.InstructionDomain),
            controls, figures, measures, replay);

        void AddDistributions(TokenSpecializationAccumulator counts)
        {
            foreach (var id in chosen)
                for (int m = 0; m < layers.Count; m++)
                    distributions[id][m].Add(counts.Top1Distribution(m, id));
        }
    }

    /// <summary>
    /// Index of the checkpoint early routing learning is judged on: the latest with a known step at or
    /// before half of the final step ("early" means by half of training, not at step 1), or null.
    /// </summary>
    public static int? EarlyCheckpoint(IReadOnlyList<AnalysisModelSource> ordered)
    {
        if (ordered.Count < 2 || ordered[^1].Step is not > 0)
            return null;
        long finalStep = ordered[^1].Step!.Value;
        int? index = null;
        for (int c = 0; c < ordered.Count - 1; c++)
            if (ordered[c].Step is long s && s <= finalStep / 2)
                index = c;
        return index;
    }

    // Batch b with each row's document tokens permuted (seeded by the data seed and b: every model sees the same permutation).
    private static RoutingBatch RouteShuffled(MoeTransformer model, PackedBatch packed, int b, AnalysisOptions options, ForwardOptions forwardOptions)
    {
        var shuffled = ContextShuffle.Permute(packed.Inputs, packed.DomainIds, packed.LanguageIds, options.SequenceLength, options.Seed, b);
        return RoutingBatch.From(shuffled.Inputs, options.SequenceLength, shuffled.DomainIds, shuffled.LanguageIds,
            model.Forward(shuffled.Inputs, packed.Batch, forwardOptions));
    }

    private static IReadOnlyList<RoutingBatch> Rows(IEnumerable<RoutingBatch> batches) =>
        batches.SelectMany(b => Enumerable.Range(0, b.Rows).Select(b.Row)).ToArray();

    private static PackedBatch[] Draw(DataPipeline pipeline, AnalysisOptions options) =>
        Enumerable.Range(0, options.Batches).Select(_ => pipeline.NextBatch(options.BatchSize, step: 0)).ToArray();

    private static RoutingBatch Route(MoeTransformer model, PackedBatch batch, ForwardOptions forward) =>
        RoutingBatch.From(batch, model.Forward(batch.Inputs, batch.Batch, forward));

    private static ModelLabel Label(AnalysisModelSource source) => new(source.Label, source.Step);

    // The final checkpoint agrees with itself; its chance level is sum_e p_e^2 of its own top-1 shares.
    private static IEnumerable<AgreementPoint> FinalPoints(TokenSpecializationAccumulator tokens, IReadOnlyList<int> layers, int experts, int index, ModelLabel label)
    {
        var frequencies = tokens.TokenFrequencies;
        double total = frequencies.Values.Sum();
        return layers.Select((layer, m) =>
        {
            var shares = new double[experts];
            foreach (var (id, count) in frequencies)
            {
                var distribution = tokens.Top1Distribution(m, id);
                for (int e = 0; e < experts; e++)
                    shares[e] += distribution[e] * count / total;
            }
            return new AgreementPoint(index, label.Label, label.Step, layer, 1.0, shares.Sum(s => s * s), 1.0, 1.0);
        });
    }

    private static DataPipeline Pipeline(DataSpec data, MixtureSchedule mixture, ITokenizer tokenizer, AnalysisOptions options) =>
        new(data.Sources, mixture, ObjectiveSchedule.Constant(new CausalLm(tokenizer)), tokenizer, options.SequenceLength, options.Seed);

    // Every source holding documents of the instruction domain, weight 1; null when there is none.
    private static Dictionary<string, double>? InstructionWeights(DataSpec data, string domain)
    {
        var weights = data.Sources.Where(s => s.Documents.Any(d => d.Domain == domain)).ToDictionary(s => s.Name, _ => 1.0);
        return weights.Count == 0 ? null : weights;
    }

    private static string TokenizerName(ITokenizer tokenizer) => $"{tokenizer.GetType().Name} ({tokenizer.VocabSize} ids)";
}
