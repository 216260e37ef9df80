using OpenMoE.Cli.Commands;
using OpenMoE.Analysis;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Data;
using Spectre.Console;

namespace OpenMoE.Tests.Analysis;

/// <summary>The command end to end on random-weight tiny models over the bundled corpus (CPU).</summary>
public sealed class AnalyzeCommandTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"openmoe-analyze-{Guid.NewGuid():N}");

    private static readonly AnalysisOptions Small = new() { Batches = 2, BatchSize = 4, SequenceLength = 64, MinCount = 4, PositionBuckets = 4 };

    private static (int ExitCode, string Output) Run(AnalyzeArguments args, CheckpointOpener? opener = null)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        return (CliErrors.Run(() => AnalyzeCommand.Run(args, console, opener), writer, verbose: false), writer.ToString());
    }

    private AnalyzeArguments Arguments(string? spec = "OpenMoE-Tiny", int? initSeed = 3) => new()
    {
        InitSeed = initSeed,
        Spec = spec,
        Data = Path.Combine(RepositoryFiles.Root, "data", "corpus"),
        Options = Small,
        Output = _out,
        Device = "cpu",
    };

    // Fake checkpoints "spec@step#seed": random weights of the spec (seed defaults to the step).
    private static AnalysisModelSource OpenFake(string path)
    {
        var parts = path.Split('@', '#');
        long step = long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        int seed = parts.Length > 2 ? int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : (int)step;
        return AnalysisModelSource.RandomInit(ModelSpecs.Find(parts[0]), (ulong)seed) with { Label = path, Step = step };
    }

    [Fact]
    public void Random_tiny_openmoe_writes_json_plots_and_report()
    {
        var (exitCode, output) = Run(Arguments());

        Assert.True(exitCode == 0, output);
        var report = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(_out, AnalysisWriter.JsonFile)));
        Assert.Equal("OpenMoE-Tiny", report.Run.Spec);
        Assert.Equal([1, 3], report.Run.MoeLayers);
        Assert.Equal(2, report.TokenSpecialization.Count);
        Assert.All(report.TokenSpecialization, l => Assert.True(l.TokenIds > 0));
        Assert.NotEmpty(report.LabelSpecialization.Domain[0].Labels);
        Assert.DoesNotContain("instruction", report.LabelSpecialization.Domain[0].Labels);   // held out of the mixture
        Assert.Equal([RoutingAnalysis.PretrainingDataSet, "instruction"], report.Drops.DataSets.Select(d => d.Name));
        Assert.Equal(1.25, report.Drops.CapacityFactor);
        Assert.False(report.EarlyLearning.Available);
        Assert.Equal(3, report.Findings.Count);
        foreach (var file in new[] { "specialization_spread.png", "controls.png", "token_experts_L1.png", "domain_lift_L3.png", "drop_by_position.png" })
            Assert.True(new FileInfo(Path.Combine(_out, file)).Length > 1000, file);
        var markdown = File.ReadAllText(Path.Combine(_out, AnalysisWriter.MarkdownFile));
        Assert.Contains("](specialization_spread.png)", markdown);
        Assert.Contains("## 4. Are tokens late in a sequence dropped more?", markdown);
        Assert.Contains("Context-independent specialization", output);
    }

    [Fact]
    public void An_untrained_model_is_its_own_control_so_no_finding_reproduces()
    {
        // The case: `analyze --init-seed 5 --spec OpenMoE-Tiny` used to say "reproduces". Its
        // untrained control is the same initialisation, so no figure can lie beyond the control's interval.
        var (exitCode, output) = Run(Arguments(initSeed: 5) with { Options = Small with { Replay = true, ReplayFactors = [1.0, 2.0] } });

        Assert.True(exitCode == 0, output);
        var report = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(_out, AnalysisWriter.JsonFile)));
        Assert.True(report.Controls.UntrainedIsOwnInit);
        Assert.Equal("random init (seed 5)", report.Controls.Untrained);
        Assert.Equal(Small.Batches * Small.BatchSize, report.Controls.Sequences);
        Assert.All(report.Figures, f => Assert.Equal(f.Trained, f.Untrained));
        var token = report.Figures.Single(f => f.Key == ControlledFigures.TokenSpread);
        Assert.True(token.Trained.Low < token.Trained.High, "the bootstrap gives a real interval");
        Assert.NotEqual(token.Trained, token.Shuffled);
        Assert.DoesNotContain(report.Findings, f => f.Verdict is Findings.Reproduces or Findings.Partly);
        Assert.Equal(Findings.DoesNotReproduce, report.Findings[0].Verdict);
        Assert.Contains("no more than in the same architecture untrained", report.Findings[0].Summary);

        // Replay: by position, batch-prioritised (one case per factor each), dropless; the 2.0 factor drops least.
        var replay = report.Replay[0];
        Assert.Equal(RoutingAnalysis.PretrainingDataSet, replay.Name);
        Assert.Equal(5, replay.Cases.Count);
        Assert.True(replay.Cases[0].DropRatio >= replay.Cases[1].DropRatio);
        Assert.Equal(0.0, replay.Cases[^1].DropRatio);
        var markdown = File.ReadAllText(Path.Combine(_out, AnalysisWriter.MarkdownFile));
        Assert.Contains("**Verdict rule.**", markdown);
        Assert.Contains("## Counterfactual capacity replay", markdown);
        Assert.Contains("## Measures beyond the paper", markdown);
        Assert.True(File.Exists(Path.Combine(_out, "replay_by_position.png")));
    }

    [Fact]
    public void Checkpoints_of_a_run_give_early_learning_and_the_reproduction_document()
    {
        var reproduction = Path.Combine(_out, "docs", "reproduction.md");
        var args = Arguments(initSeed: null) with
        {
            // Out of order on purpose; step 200 has the final weights, step 50 others.
            Checkpoints = ["OpenMoE-Tiny@200#7", "OpenMoE-Tiny@50"],
            Checkpoint = "OpenMoE-Tiny@400#7",
            Output = Path.Combine(_out, "analysis"),
            Reproduction = reproduction,
            TrainingNote = "none (random weights in a test)",
        };
        var (exitCode, output) = Run(args, OpenFake);

        Assert.True(exitCode == 0, output);
        var report = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(_out, "analysis", AnalysisWriter.JsonFile)));
        Assert.True(report.EarlyLearning.Available);
        Assert.Equal([50L, 200L, 400L], report.Run.Models.Select(m => m.Step!.Value));
        Assert.All(report.EarlyLearning.Points.Where(p => p.Checkpoint >= 1), p => Assert.Equal((1.0, 1.0), (p.Agreement, p.TokenIdAgreement)));
        Assert.All(report.EarlyLearning.Points.Where(p => p.Checkpoint == 0), p => Assert.InRange(p.Agreement, 0.0, 0.9));
        // Same weights, same data: identical chance levels from the streamed pass and from the final counts.
        var chance = report.EarlyLearning.Points.Where(p => p.Checkpoint >= 1).GroupBy(p => p.Layer).ToArray();
        Assert.All(chance, layer => Assert.Equal(layer.First().Chance, layer.Last().Chance, 9));
        Assert.All(report.EarlyLearning.ChosenTokens, t => Assert.Equal(3, t.Distributions.Length));
        // The final checkpoint records init seed 7, so the untrained control is seed 7 itself; the early checkpoint
        // (step 200, the latest at half of 400) has those weights too: both agree with the final one everywhere,
        // so early learning cannot be told from the initialisation and does not reproduce.
        Assert.Equal(1, report.EarlyLearning.EarlyCheckpoint);
        var early = report.Figures.Single(f => f.Key == ControlledFigures.EarlyAgreement);
        Assert.Equal((1.0, 1.0), (early.Trained.Value, early.Untrained.Value));
        // The shuffled control routes the same permuted rows through both checkpoints: identical weights agree everywhere there too.
        Assert.Equal(1.0, early.Shuffled!.Value);
        Assert.Contains("on context-shuffled data the early checkpoint agrees with the final one on 100.0%", report.Findings[1].Summary);
        Assert.Equal(Findings.DoesNotReproduce, report.Findings[1].Verdict);
        Assert.Contains("no more than the untrained initialisation", report.Findings[1].Summary);
        Assert.True(File.Exists(Path.Combine(_out, "analysis", "early_agreement.png")));
        var document = File.ReadAllText(reproduction);
        Assert.Contains("](../analysis/early_agreement.png)", document);
        Assert.Contains("## What differs from the paper", document);
        Assert.Contains("## Early routing learning: ", document);
    }

    [Fact]
    public void A_checkpoint_of_another_spec_fails_clearly()
    {
        var args = Arguments(initSeed: null) with { Checkpoints = ["OpenMoE-Tiny@10"], Checkpoint = "Mixtral-Tiny@20" };
        var (exitCode, output) = Run(args, OpenFake);

        Assert.Equal(2, exitCode);
        Assert.Contains("Mixtral-Tiny@20 holds a Mixtral-Tiny model but the analysis is for OpenMoE-Tiny", output.Replace("\n", "", StringComparison.Ordinal));
        Assert.False(Directory.Exists(_out));
    }

    [Fact]
    public void Missing_or_conflicting_model_arguments_fail_with_what_to_pass()
    {
        Assert.Contains("--init-seed needs --spec", Run(Arguments(spec: null)).Output);
        Assert.Contains("cannot load checkpoints yet", Run(Arguments(initSeed: null) with { Checkpoint = "run/ckpt" }).Output);
        Assert.Contains("Nothing to analyse", Run(Arguments(initSeed: null)).Output);
        Assert.Contains("--seq must lie in 16..256", Run(Arguments() with { Options = Small with { SequenceLength = 512 } }).Output);
        Assert.Contains("--bootstrap must be at least 20", Run(Arguments() with { Options = Small with { Replicates = 5 } }).Output);
    }

    [Theory]
    [InlineData("Mixtral-Tiny")]
    [InlineData("DeepSeekMoE-Tiny")]
    public void A_dropless_spec_reports_zero_drops_and_says_why(string spec)
    {
        var (exitCode, output) = Run(Arguments(spec: spec) with { Options = Small with { Batches = 1 } });

        Assert.True(exitCode == 0, output);
        var report = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(_out, AnalysisWriter.JsonFile)));
        Assert.True(report.Drops.Dropless);
        Assert.All(report.Drops.DataSets, set => Assert.Equal(0.0, set.DropRatio));
        var drop = report.Findings.Single(f => f.Name == "Drop towards the end");
        Assert.Equal(Findings.NotMeasured, drop.Verdict);
        Assert.Contains("dropless", drop.Summary);
        Assert.Contains("**This spec is dropless**", File.ReadAllText(Path.Combine(_out, AnalysisWriter.MarkdownFile)));
    }

    [Fact]
    public void The_root_command_parses_analyze_options_and_reports_bad_values()
    {
        static (int ExitCode, string Output) Invoke(params string[] args)
        {
            var result = OpenMoE.Tests.Cli.CliRunner.Invoke(args);
            return (result.ExitCode, result.Out + result.Err);
        }

        var help = Invoke("analyze", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--init-seed", help.Output);
        Assert.Contains("--checkpoints", help.Output);
        var unknownSpec = Invoke("analyze", "--init-seed", "1", "--spec", "No-Such-Spec", "--device", "cpu");
        Assert.Equal(2, unknownSpec.ExitCode);
        Assert.Contains("No-Such-Spec", unknownSpec.Output);
        var tooLong = Invoke("analyze", "--init-seed", "1", "--spec", "OpenMoE-Tiny", "--seq", "999", "--device", "cpu");
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("--seq must lie in 16..256", tooLong.Output);
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
            Directory.Delete(_out, recursive: true);
    }
}
