using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OpenMoE.Model.Generation;
using OpenMoE.Model.Network;
using OpenMoE.Analysis;
using OpenMoE.Training;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe demo</c>: on the CPU, trains OpenMoE-Tiny on the bundled corpus with OpenMoE's recipe
/// (UL2 then causal LM, Adafactor, capacity factor 1.25) in a few minutes, saves checkpoints, compares
/// the loss with a unigram baseline, prints a routing summary (load per expert, drop ratio by
/// position) and generates a short sample.
/// </summary>
public static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var steps = new Option<long>("--steps") { Description = "Training steps (the default fits ~5 minutes on 2 cores).", DefaultValueFactory = _ => 600 };
        var batch = new Option<int>("--batch") { Description = "Sequences per batch.", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Sequence length.", DefaultValueFactory = _ => 128 };
        var output = new Option<string>("--out") { Description = "Run folder.", DefaultValueFactory = _ => "runs/demo" };
        var data = new Option<string>("--data") { Description = "Data spec (default: the bundled corpus).", DefaultValueFactory = _ => "data/corpus" };
        var seed = new Option<ulong>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1UL };
        var prompt = new Option<string>("--prompt") { Description = "Prompt of the generated sample.", DefaultValueFactory = _ => "The " };
        var command = new Command("demo", "Train a small OpenMoE on the bundled corpus on the CPU, summarise its routing and sample from it.")
        {
            steps, batch, seq, output, data, seed, prompt,
        };
        command.SetAction(parse => Run(new TrainerOptions
        {
            Spec = "OpenMoE-Tiny", Data = parse.GetValue(data)!, Out = parse.GetValue(output)!, Steps = parse.GetValue(steps),
            Batch = parse.GetValue(batch), SequenceLength = parse.GetValue(seq), Objective = "ul2-then-causal",
            SwitchStep = parse.GetValue(steps) * 2 / 5, Optimizer = "adafactor", LearningRate = 0.01, Schedule = "rsqrt",
            Warmup = 100, CheckpointEvery = Math.Max(1, parse.GetValue(steps) / 4), Seed = parse.GetValue(seed),
        }, parse.GetValue(prompt)!, AnsiConsole.Console));
        return command;
    }

    internal static int Run(TrainerOptions options, string prompt, IAnsiConsole console)
    {
        try
        {
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            using var trainer = new Trainer(options, device);
            var config = trainer.Spec.Config;
            console.MarkupLineInterpolated($"[bold]openmoe demo[/]: {config.Name} ({trainer.ParameterCount:N0} parameters, {config.Layers} layers, {config.Experts} experts top-{config.TopK}, MoE layers {string.Join(",", config.MoeLayers)})");
            console.MarkupLineInterpolated($"data {options.Data}; UL2 until step {options.SwitchStep}, then causal LM; Adafactor; capacity factor {config.TrainCapacityFactor}; B={options.Batch} T={options.SequenceLength}; {device.Description}");

            var trainBatches = DemoEvaluation.CausalBatches(options.Data, trainer.Tokenizer, 50, options.Batch, options.SequenceLength, options.Seed);
            var evalBatches = DemoEvaluation.CausalBatches(options.Data, trainer.Tokenizer, 4, options.Batch, options.SequenceLength, options.Seed + 1000);
            double unigram = DemoEvaluation.UnigramLoss(trainBatches, evalBatches, config.Vocab);
            double before = trainer.EvaluateLoss(evalBatches);

            var routing = new RoutingSummary(config.Experts, options.SequenceLength);
            long summaryFrom = options.Steps - options.Steps / 5;
            var clock = Stopwatch.StartNew();
            TrainCommand.TrainWithProgress(trainer, options, console, report =>
            {
                if (report.Step > summaryFrom) routing.Add(report);
            });
            var trainTime = clock.Elapsed;
            double after = trainer.EvaluateLoss(evalBatches);

            console.WriteLine();
            console.MarkupLineInterpolated($"trained {trainer.Step} steps in {trainTime.TotalSeconds:F0} s; checkpoints in {Path.Combine(options.Out, "checkpoints")}, metrics in {Path.Combine(options.Out, "metrics.jsonl")}");
            var losses = new Table().AddColumns("causal-LM cross-entropy (nats/token) on 4 fresh batches", "value");
            losses.AddRow("unigram baseline", unigram.ToString("F3", CultureInfo.InvariantCulture));
            losses.AddRow("model before training", before.ToString("F3", CultureInfo.InvariantCulture));
            losses.AddRow("model after training", after.ToString("F3", CultureInfo.InvariantCulture));
            console.Write(losses);
            string curve = Path.Combine(options.Out, "loss.png");
            LossCurvePlot.Write(Path.Combine(options.Out, "metrics.jsonl"), curve, unigram, "unigram baseline");
            console.MarkupLineInterpolated($"training curve: {curve}");
            WriteRouting(console, routing, config.Experts, config.TopK, options.Steps - summaryFrom);

            var weights = trainer.DownloadWeights();
            using var model = new MoeTransformer(device, trainer.Spec, DeviceWeights.Load(device, trainer.Spec, p => weights[p.Name]));
            int[] promptIds = [trainer.Tokenizer.BosId, .. trainer.Tokenizer.Encode(prompt)];
            var sampled = new TextGenerator(model).Generate(promptIds, Math.Min(120, trainer.Spec.Config.ContextLength - promptIds.Length),
                new SamplingOptions { Temperature = 0.7, Seed = options.Seed }, stopToken: trainer.Tokenizer.EosId);
            string sample = trainer.Tokenizer.Decode(sampled.Where(id => id != trainer.Tokenizer.EosId).ToArray());
            console.MarkupLine("[bold]sample[/] (temperature 0.7):");
            console.WriteLine(prompt + sample);
            return after < unigram ? 0 : 1;
        }
        catch (Exception ex) when (ex is TrainingDivergedException or ArgumentException or InvalidOperationException or IOException)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 1;
        }
    }

    private static void WriteRouting(IAnsiConsole console, RoutingSummary routing, int experts, int topK, long steps)
    {
        var load = new Table().AddColumn("MoE layer");
        for (int e = 0; e < experts; e++) load.AddColumn($"e{e}");
        foreach (int layer in routing.Layers)
            load.AddRow([layer.ToString(CultureInfo.InvariantCulture), .. routing.LoadShare(layer).Select(s => s.ToString("P1", CultureInfo.InvariantCulture))]);
        console.MarkupLineInterpolated($"[bold]routing[/] over the last {steps} steps: share of kept assignments per expert");
        console.Write(load);
        var drops = new Table().AddColumn("MoE layer");
        for (int b = 0; b < routing.Buckets; b++) drops.AddColumn(routing.BucketLabel(b));
        foreach (int layer in routing.Layers)
            drops.AddRow([layer.ToString(CultureInfo.InvariantCulture), .. routing.DropRatioByBucket(layer, topK).Select(s => s.ToString("P1", CultureInfo.InvariantCulture))]);
        console.MarkupLine("[bold]drop ratio by position[/] (capacity factor 1.25; later tokens drop first)");
        console.Write(drops);
    }
}
