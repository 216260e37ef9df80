using System.CommandLine;
using System.Globalization;
using OpenMoE.Training;
using OpenMoE.Runtime.Communication;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe train</c>: trains a spec on a data spec with OpenMoE's recipe (UL2 then causal LM,
/// Adafactor, inverse-sqrt schedule, capacity factor 1.25), with a progress bar, RUN/metrics.jsonl
/// and checkpoints in RUN/checkpoints; <c>--resume</c> continues the latest checkpoint exactly.
/// </summary>
public static class TrainCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var spec = new Option<string>("--spec") { Description = "Model spec (see `openmoe specs`).", DefaultValueFactory = _ => "OpenMoE-Tiny" };
        var data = new Option<string>("--data") { Description = "Data spec file or folder with corpus.json.", DefaultValueFactory = _ => "data/corpus" };
        var steps = new Option<long>("--steps") { Description = "Total optimizer steps.", DefaultValueFactory = _ => 1000 }.AtLeast(1);
        var batch = ModelOptions.BatchOption(8);
        var seq = new Option<int>("--seq") { Description = "Sequence length T (at most the spec's context length).", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var objective = new Option<string>("--objective") { Description = "Training objective.", DefaultValueFactory = _ => "ul2-then-causal" }.OneOf("ul2", "causal", "ul2-then-causal");
        var switchStep = new Option<long?>("--switch-step") { Description = "Step where ul2-then-causal switches (default: half of --steps)." }.AtLeast(0);
        var lr = new Option<double>("--lr") { Description = "Plateau learning rate (rsqrt) or peak (cosine). OpenMoE: 0.01.", DefaultValueFactory = _ => 0.01 }.Positive();
        var schedule = new Option<string>("--schedule") { Description = "rsqrt (lr*sqrt(warmup/max(step,warmup)), OpenMoE) or cosine.", DefaultValueFactory = _ => "rsqrt" }.OneOf("rsqrt", "cosine");
        var warmup = new Option<long>("--warmup") { Description = "Plateau/warmup steps (OpenMoE: 10000).", DefaultValueFactory = _ => 100 }.AtLeast(0);
        var optimizer = new Option<string>("--optimizer") { Description = "adafactor (OpenMoE) or adamw.", DefaultValueFactory = _ => "adafactor" }.OneOf("adafactor", "adamw");
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => 1.0 }.NonNegative();
        var capacity = ModelOptions.CapacityFactorOption("training");
        var every = new Option<long>("--checkpoint-every") { Description = "Save every K steps (and at the end; 0 = only at the end).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var keep = new Option<int>("--keep-checkpoints") { Description = "Keep the newest N checkpoints (0 = all).", DefaultValueFactory = _ => 3 }.AtLeast(0);
        var output = new Option<string>("--out") { Description = "Run folder (metrics.jsonl, checkpoints/).", DefaultValueFactory = _ => "runs/train" };
        var device = ModelOptions.DeviceOption();
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation and data order.", DefaultValueFactory = _ => 1UL };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out that verifies." };
        var initFrom = new Option<string?>("--init-from") { Description = "Start from these weights (a checkpoint of --spec, e.g. from `openmoe upcycle`) instead of a fresh initialisation." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Delete the run in --out (metrics.jsonl, checkpoints/) and start afresh." };
        var tokenizer = ModelOptions.TokenizerOption().WithDeprecatedAlias("--spm");
        var command = new Command("train", "Train a model (UL2 then causal LM, Adafactor) with checkpoints and a metrics log.")
        {
            spec, data, steps, batch, seq, objective, switchStep, lr, schedule, warmup, optimizer, clip, capacity, every, keep, output, device, seed, resume, initFrom, overwrite, tokenizer,
        };
        var routing = new RoutingCliOptions(record: false, replay: true);
        routing.AddTo(command);
        var parallel = new ParallelCliOptions(dataParallel: true);
        parallel.AddTo(command);
        command.SetAction(parse =>
        {
            using var communicator = Communicators.FromEnvironment();
            return RankFailures.Run(communicator, () => Train(parse, communicator));
        });
        return command;

        int Train(ParseResult parse, ICommunicator communicator)
        {
            var (expertParallel, dataParallel) = parallel.Check(parse, communicator);
            var options = new TrainerOptions
            {
                Spec = parse.GetValue(spec)!, Data = parse.GetValue(data)!, Out = parse.GetValue(output)!,
                Steps = parse.GetValue(steps), Batch = parse.GetValue(batch), SequenceLength = parse.GetValue(seq),
                Objective = parse.GetValue(objective)!, SwitchStep = parse.GetValue(switchStep), LearningRate = parse.GetValue(lr),
                Schedule = parse.GetValue(schedule)!, Warmup = parse.GetValue(warmup), Optimizer = parse.GetValue(optimizer)!,
                ClipNorm = parse.GetValue(clip), CapacityFactor = parse.GetValue(capacity), CheckpointEvery = parse.GetValue(every), KeepCheckpoints = parse.GetValue(keep),
                Seed = parse.GetValue(seed), Resume = parse.GetValue(resume), InitFrom = parse.GetValue(initFrom), Overwrite = parse.GetValue(overwrite), Tokenizer = parse.GetValue(tokenizer),
                Routing = parse.GetValue(routing.Routing), ReplayRouting = parse.GetValue(routing.Replay),
                ExpertParallel = expertParallel, DataParallel = dataParallel,
            };
            return Run(options, parse.GetValue(device)!, ParallelCliOptions.ConsoleFor(communicator, CliConsole.Out(parse)), communicator);
        }
    }

    /// <summary>Runs training (one rank of <paramref name="world"/> in a parallel run); returns 0, or throws for <see cref="CliErrors"/> to report.</summary>
    internal static int Run(TrainerOptions options, string deviceName, IAnsiConsole console, ICommunicator? world = null)
    {
        options.Validate();
        using var device = DeviceFactory.Create(DeviceFactory.Parse(deviceName));
        using var trainer = new Trainer(options, device, world: world);
        foreach (var note in trainer.RunNotes)
            console.MarkupLineInterpolated($"[yellow]{note}[/]");
        console.MarkupLineInterpolated($"training [bold]{trainer.Spec.Name}[/] ({trainer.ParameterCount:N0} parameters) on {device.Description}, GEMM {trainer.GemmName}");
        if (options.Ranks > 1)
            console.MarkupLineInterpolated($"{options.Ranks} ranks ({world!.Name}): experts split over {options.ExpertParallel}, {options.DataParallel} data-parallel replica(s)");
        if (trainer.Step > 0)
            console.MarkupLineInterpolated($"resumed at step {trainer.Step}");
        var last = TrainWithProgress(trainer, options, console, _ => { });
        console.MarkupLineInterpolated($"done: step {trainer.Step}, loss {Format(last?.Loss)}; metrics in {Path.Combine(options.Out, "metrics.jsonl")}, checkpoints in {Path.Combine(options.Out, "checkpoints")}");
        return 0;
    }

    /// <summary>Runs the trainer under a progress bar (loss, router losses, drop ratio, tokens/s, ETA). Returns the last step's report.</summary>
    internal static StepReport? TrainWithProgress(Trainer trainer, TrainerOptions options, IAnsiConsole console, Action<StepReport> onStep)
    {
        StepReport? last = null;
        if (!console.Profile.Capabilities.Interactive)
        {
            // Piped or logged output gets no live bar: about 20 plain lines, each with its ETA.
            long first = trainer.Step, every = Math.Max(1, (options.Steps - first) / 20);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            trainer.Run(report =>
            {
                last = report;
                onStep(report);
                if ((report.Step - first) % every != 0 && report.Step != options.Steps) return;
                double perStep = clock.Elapsed.TotalSeconds / (report.Step - first);
                var eta = TimeSpan.FromSeconds(Math.Round(perStep * (options.Steps - report.Step)));
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {report.Step}/{options.Steps} loss {report.Loss:F3} aux {report.LoadBalancing:F3} z {report.ZLoss:F2} drop {report.DropRatio:P1} {report.TokensPerSecond:N0} tok/s ETA {(int)eta.TotalHours}:{eta:mm\\:ss}"));
            });
            return last;
        }
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: options.Steps);
                task.Value = trainer.Step;
                trainer.Run(report =>
                {
                    last = report;
                    onStep(report);
                    task.Value = report.Step;
                    task.Description = string.Create(CultureInfo.InvariantCulture,
                        $"step {report.Step} loss {report.Loss:F3} aux {report.LoadBalancing:F3} z {report.ZLoss:F2} drop {report.DropRatio:P1} {report.TokensPerSecond:N0} tok/s");
                });
            });
        return last;
    }

    private static string Format(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
