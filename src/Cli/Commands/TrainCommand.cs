using System.CommandLine;
using System.Globalization;
using OpenMoE.Training;
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
        var steps = new Option<long>("--steps") { Description = "Total optimizer steps.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "Sequences per batch B.", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Sequence length T.", DefaultValueFactory = _ => 128 };
        var objective = new Option<string>("--objective") { Description = "ul2 | causal | ul2-then-causal.", DefaultValueFactory = _ => "ul2-then-causal" };
        var switchStep = new Option<long?>("--switch-step") { Description = "Step where ul2-then-causal switches (default: half of --steps)." };
        var lr = new Option<double>("--lr") { Description = "Plateau learning rate (rsqrt) or peak (cosine). OpenMoE: 0.01.", DefaultValueFactory = _ => 0.01 };
        var schedule = new Option<string>("--schedule") { Description = "rsqrt (lr*sqrt(warmup/max(step,warmup)), OpenMoE) | cosine.", DefaultValueFactory = _ => "rsqrt" };
        var warmup = new Option<long>("--warmup") { Description = "Plateau/warmup steps (OpenMoE: 10000).", DefaultValueFactory = _ => 100 };
        var optimizer = new Option<string>("--optimizer") { Description = "adafactor (OpenMoE) | adamw.", DefaultValueFactory = _ => "adafactor" };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => 1.0 };
        var capacity = new Option<double?>("--capacity-factor") { Description = "Capacity factor (default: the spec's training value, 1.25 for OpenMoE)." };
        var every = new Option<long>("--checkpoint-every") { Description = "Save every K steps (and at the end).", DefaultValueFactory = _ => 0 };
        var keep = new Option<int>("--keep-checkpoints") { Description = "Keep the newest N checkpoints (0 = all).", DefaultValueFactory = _ => 3 };
        var output = new Option<string>("--out") { Description = "Run folder (metrics.jsonl, checkpoints/).", DefaultValueFactory = _ => "runs/train" };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda.", DefaultValueFactory = _ => "cpu" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation and data order.", DefaultValueFactory = _ => 1UL };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out." };
        var spm = new Option<string?>("--tokenizer", "--spm") { Description = "gpt2 | r50k | cl100k | o200k (BPE vocabularies) or a SentencePiece .model file (umT5 spiece.model); default: the byte tokenizer. Recorded in the checkpoints." };
        var command = new Command("train", "Train a model (UL2 then causal LM, Adafactor) with checkpoints and a metrics log.")
        {
            spec, data, steps, batch, seq, objective, switchStep, lr, schedule, warmup, optimizer, clip, capacity, every, keep, output, device, seed, resume, spm,
        };
        var routing = new RoutingCliOptions(record: false, replay: true);
        routing.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new TrainerOptions
            {
                Spec = parse.GetValue(spec)!, Data = parse.GetValue(data)!, Out = parse.GetValue(output)!,
                Steps = parse.GetValue(steps), Batch = parse.GetValue(batch), SequenceLength = parse.GetValue(seq),
                Objective = parse.GetValue(objective)!, SwitchStep = parse.GetValue(switchStep), LearningRate = parse.GetValue(lr),
                Schedule = parse.GetValue(schedule)!, Warmup = parse.GetValue(warmup), Optimizer = parse.GetValue(optimizer)!,
                ClipNorm = parse.GetValue(clip), CapacityFactor = parse.GetValue(capacity), CheckpointEvery = parse.GetValue(every), KeepCheckpoints = parse.GetValue(keep),
                Seed = parse.GetValue(seed), Resume = parse.GetValue(resume), Tokenizer = parse.GetValue(spm),
                Routing = parse.GetValue(routing.Routing), ReplayRouting = parse.GetValue(routing.Replay),
            };
            return Run(options, parse.GetValue(device)!, AnsiConsole.Console);
        });
        return command;
    }

    /// <summary>Runs training; returns the exit code (1 on divergence or bad arguments).</summary>
    internal static int Run(TrainerOptions options, string deviceName, IAnsiConsole console)
    {
        try
        {
            using var device = DeviceFactory.Create(DeviceFactory.Parse(deviceName));
            using var trainer = new Trainer(options, device);
            console.MarkupLineInterpolated($"training [bold]{trainer.Spec.Name}[/] ({trainer.ParameterCount:N0} parameters) on {device.Description}, GEMM {trainer.GemmName}");
            if (trainer.Step > 0)
                console.MarkupLineInterpolated($"resumed at step {trainer.Step}");
            var last = TrainWithProgress(trainer, options, console, _ => { });
            console.MarkupLineInterpolated($"done: step {trainer.Step}, loss {Format(last?.Loss)}; metrics in {Path.Combine(options.Out, "metrics.jsonl")}, checkpoints in {Path.Combine(options.Out, "checkpoints")}");
            return 0;
        }
        catch (TrainingDivergedException ex)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or DeviceUnavailableException or IOException or KeyNotFoundException)
        {
            console.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 1;
        }
    }

    /// <summary>Runs the trainer under a progress bar (loss, router losses, drop ratio, tokens/s, ETA). Returns the last step's report.</summary>
    internal static StepReport? TrainWithProgress(Trainer trainer, TrainerOptions options, IAnsiConsole console, Action<StepReport> onStep)
    {
        StepReport? last = null;
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
