using System.CommandLine;
using System.Globalization;
using OpenMoE.Analysis;
using OpenMoE.Training.Data;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Training.Tokenization;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

using OpenMoE.Training.Planning;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe analyze</c>: the routing analysis of a model (or several checkpoints of one run) on a
/// data spec, written as <c>analysis.json</c>, PNG plots and <c>report.md</c>; optionally also the
/// reproduction document. Models come from checkpoints (through a <see cref="CheckpointOpener"/>)
/// or, with <c>--init-seed</c>, from a random initialisation of <c>--spec</c>.
/// </summary>
public static class AnalyzeCommand
{
    /// <summary>Builds the command; <paramref name="openCheckpoint"/> loads checkpoints (null: only --init-seed works).</summary>
    public static Command Create(CheckpointOpener? openCheckpoint = null)
    {
        var checkpoint = new Option<string?>("--weights") { Description = "The (final) checkpoint to analyse: a checkpoint folder, a run folder (its newest checkpoint) or safetensors." }
            .NotEmpty().WithDeprecatedAlias("--checkpoint");
        var checkpoints = new Option<string[]>("--checkpoints") { Description = "Earlier checkpoints of the same run, for early routing learning (the last one, or --weights, is the final one).", AllowMultipleArgumentsPerToken = true };
        var initSeed = new Option<int?>("--init-seed") { Description = "Analyse a randomly initialised model of --spec with this seed instead of a checkpoint." };
        var spec = new Option<string?>("--spec") { Description = "Model spec (required with --init-seed; with checkpoints it must match theirs)." };
        var data = new Option<string>("--data") { Description = "Data spec file or directory with corpus.json.", DefaultValueFactory = _ => "data/corpus" };
        var batches = new Option<int>("--batches") { Description = "Batches per data set and checkpoint.", DefaultValueFactory = _ => 4 }.AtLeast(1);
        var batch = ModelOptions.BatchOption(8);
        var seq = new Option<int>("--seq") { Description = "Sequence length T (at most the spec's context length).", DefaultValueFactory = _ => 256 }.AtLeast(16);
        var seed = new Option<ulong>("--seed") { Description = "Data pipeline seed.", DefaultValueFactory = _ => 1UL };
        var minCount = new Option<int>("--min-count") { Description = "Leave out token ids seen fewer times.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var buckets = new Option<int>("--position-buckets") { Description = "Equal-width position buckets.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var capacityFactor = ModelOptions.CapacityFactorOption("training");
        var tokenizer = ModelOptions.TokenizerOption();
        var output = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "analysis" };
        var device = ModelOptions.DeviceOption();
        var reproduction = new Option<string?>("--reproduction") { Description = "Also write the reproduction document (e.g. docs/reproduction.md)." };
        var training = new Option<string>("--training-note") { Description = "How the checkpoints were trained, for the reproduction document.", DefaultValueFactory = _ => "" };
        var generatedBy = new Option<string?>("--generated-by") { Description = "Command named in the reproduction document as the one that regenerates it." };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples of the sequences per 95% interval (at least 20).", DefaultValueFactory = _ => Bootstrap.DefaultReplicates }.AtLeast(20);
        var controlSeed = new Option<ulong>("--control-seed") { Description = "Initialisation seed of the untrained control when the checkpoint does not record its own.", DefaultValueFactory = _ => 1UL };
        var replay = new Option<bool>("--replay") { Description = "Counterfactual capacity replay of the recorded router outputs under other capacity factors and drop policies." };
        var replayFactors = new Option<double[]>("--replay-factors") { Description = "Capacity factors the replay tries.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0.5, 1.0, 1.25, 2.0] };
        var upcycled = new Option<string?>("--upcycled") { Description = "analysis.json of the same spec upcycled from a dense model (openmoe upcycle), analysed on the same data: adds the from-scratch vs upcycled finding." }.NotEmpty();
        var command = new Command("analyze", "Routing analysis with controls: token/position/domain specialization, early routing learning, drop towards the end, measures beyond the paper, capacity replay.")
        {
            checkpoint, checkpoints, initSeed, spec, data, batches, batch, seq, seed, minCount, buckets, capacityFactor,
            tokenizer, output, device, reproduction, training, generatedBy, bootstrap, controlSeed, replay, replayFactors, upcycled,
        };
        command.SetAction(parse => Run(new AnalyzeArguments
        {
            Checkpoint = parse.GetValue(checkpoint),
            Checkpoints = parse.GetValue(checkpoints) ?? [],
            InitSeed = parse.GetValue(initSeed),
            Spec = parse.GetValue(spec),
            Data = parse.GetValue(data)!,
            Options = new AnalysisOptions
            {
                Batches = parse.GetValue(batches),
                BatchSize = parse.GetValue(batch),
                SequenceLength = parse.GetValue(seq),
                Seed = parse.GetValue(seed),
                MinCount = parse.GetValue(minCount),
                PositionBuckets = parse.GetValue(buckets),
                CapacityFactor = parse.GetValue(capacityFactor),
                Replicates = parse.GetValue(bootstrap),
                ControlSeed = parse.GetValue(controlSeed),
                Replay = parse.GetValue(replay),
                ReplayFactors = parse.GetValue(replayFactors) ?? [],
            },
            Tokenizer = parse.GetValue(tokenizer),
            Output = parse.GetValue(output)!,
            Device = parse.GetValue(device)!,
            Reproduction = parse.GetValue(reproduction),
            TrainingNote = parse.GetValue(training)!,
            Upcycled = parse.GetValue(upcycled),
            GeneratedBy = parse.GetValue(generatedBy) ?? "openmoe " + string.Join(" ", parse.Tokens.Select(t => t.Value)),
        }, CliConsole.Out(parse), openCheckpoint));
        return command;
    }

    /// <summary>Runs the analysis; returns 0, or throws for <see cref="CliErrors"/> to report.</summary>
    internal static int Run(AnalyzeArguments args, IAnsiConsole console, CheckpointOpener? openCheckpoint)
    {
        if (File.Exists(args.Output))
            throw new UsageException($"--out '{args.Output}' is a file; analyze writes a folder (analysis.json, plots, report.md): pass a folder path.");
        var models = Models(args, openCheckpoint);
        foreach (var source in models)
            Tokenizers.CheckMatches(source.Tokenizer, args.Tokenizer, source.Label);
        var spec = models[^1].Spec;
        var upcycled = args.Upcycled is { } upcycledPath ? ReadUpcycled(upcycledPath, spec.Name) : null;
        args.Options.Validated(spec.Config.ContextLength);
        var dataSpec = DataSpec.Load(args.Data);
        var tokens = Tokenizers.Open(args.Tokenizer, spec.Config.Vocab);
        using var computeDevice = DeviceFactory.Create(DeviceFactory.Parse(args.Device));
        MemoryPlanner.Plan(new PlanRequest(spec, Precision.Fp32, args.Options.BatchSize, args.Options.SequenceLength), DeviceMemory.Of(computeDevice),
            hostIsDevice: computeDevice.Kind == DeviceKind.Cpu).Require("Lower --batch or --seq, or use a machine with more memory.");
        console.MarkupLineInterpolated($"analyzing {spec.Name} ({models.Count} model(s)) on {args.Data} with {computeDevice.Description}");
        var report = console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("forward passes");
                return RoutingAnalysis.Run(models, dataSpec, args.Data, tokens, args.Options, computeDevice, p =>
                {
                    task.MaxValue = p.Total;
                    task.Value = p.Done;
                    task.Description = Markup.Escape(p.Stage);
                });
            });
        if (upcycled is not null)
            report = UpcyclingContrast.Attach(report, upcycled, args.Upcycled!);
        var written = AnalysisWriter.Write(report, args.Output);
        if (args.Reproduction is { } reproductionPath)
            written = [.. written, WriteReproduction(report, args, reproductionPath)];
        foreach (var finding in report.Findings)
            console.MarkupLineInterpolated($"[bold]{finding.Name}[/]: {finding.Verdict}");
        console.MarkupLineInterpolated($"wrote {written.Count} files to {args.Output} in {report.Run.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s (report: {Path.Combine(args.Output, AnalysisWriter.MarkdownFile)})");
        return 0;
    }

    private static IReadOnlyList<AnalysisModelSource> Models(AnalyzeArguments args, CheckpointOpener? openCheckpoint)
    {
        var paths = args.Checkpoints.Concat(args.Checkpoint is null ? [] : [args.Checkpoint]).ToArray();
        var expected = args.Spec is null ? null : ModelSpecs.Find(args.Spec);
        if (args.InitSeed is int initSeed)
        {
            if (paths.Length > 0)
                throw new ArgumentException("Use either --init-seed or checkpoints (--weights/--checkpoints), not both.");
            return [AnalysisModelSource.RandomInit(expected ?? throw new ArgumentException("--init-seed needs --spec NAME (see `openmoe specs`)."), (ulong)initSeed)];
        }
        if (paths.Length == 0)
            throw new ArgumentException("Nothing to analyse: pass --weights PATH (and --checkpoints for earlier ones), or --init-seed N --spec NAME for a random model.");
        if (openCheckpoint is null)
            throw new ArgumentException("This build of openmoe cannot load checkpoints yet; use --init-seed N --spec NAME.");
        var sources = paths.Select(path => openCheckpoint(path)).ToArray();
        AnalysisModelSource.CheckSameSpec(sources, expected ?? sources[^1].Spec);
        return sources;
    }

    // Read before the forward passes, so a wrong file fails in a second, not after the analysis.
    private static AnalysisReport ReadUpcycled(string path, string spec)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"--upcycled '{path}' does not exist; pass the analysis.json that openmoe analyze wrote for the upcycled run.", path);
        AnalysisReport report;
        try
        {
            report = AnalysisJson.Deserialize(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"--upcycled '{path}' is not an analysis.json ({ex.Message}); pass the file openmoe analyze wrote for the upcycled run.", ex);
        }
        if (report.Run is null || report.Figures is null)
            throw new InvalidDataException($"--upcycled '{path}' is not a complete analysis.json (no run or figures); pass the file openmoe analyze wrote for the upcycled run.");
        if (report.Run.Spec != spec)
            throw new ArgumentException($"--upcycled '{path}' analyses {report.Run.Spec}, this analysis {spec}; compare runs of the same spec.");
        return report;
    }

    private static string WriteReproduction(AnalysisReport report, AnalyzeArguments args, string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var prefix = Path.GetRelativePath(directory, Path.GetFullPath(args.Output)).Replace('\\', '/') + "/";
        // The document links the upcycled run's report from where the document lives, not from the working directory.
        if (report.Upcycling is { } upcycling)
            report = report with { Upcycling = upcycling with { Source = Path.GetRelativePath(directory, Path.GetFullPath(upcycling.Source)).Replace('\\', '/') } };
        var plots = Directory.GetFiles(args.Output, "*.png").ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => Path.GetFileName(f), StringComparer.Ordinal);
        File.WriteAllText(path, ReproductionDocument.Render(report, plots, prefix, args.GeneratedBy, args.TrainingNote));
        return path;
    }
}

/// <summary>Parsed arguments of <c>openmoe analyze</c>.</summary>
internal sealed record AnalyzeArguments
{
    public string? Checkpoint { get; init; }
    public string[] Checkpoints { get; init; } = [];
    public int? InitSeed { get; init; }
    public string? Spec { get; init; }
    public required string Data { get; init; }
    public required AnalysisOptions Options { get; init; }
    public string? Tokenizer { get; init; }
    public required string Output { get; init; }
    public string Device { get; init; } = "auto";
    public string? Reproduction { get; init; }
    public string? Upcycled { get; init; }
    public string TrainingNote { get; init; } = "";
    public string GeneratedBy { get; init; } = "openmoe analyze";
}
