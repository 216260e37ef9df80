using OpenMoE.Cli;
using OpenMoE.Cli.Commands;
using OpenMoE.Training;
using OpenMoE.Tests.Data;
using Spectre.Console;

namespace OpenMoE.Tests.Training;

/// <summary>The train and demo commands end to end, with tiny settings.</summary>
public sealed class TrainingCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-train-cli-").FullName;

    private static (IAnsiConsole Console, StringWriter Writer) Console()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 200;
        return (console, writer);
    }

    private TrainerOptions Tiny(string run, long steps) => new()
    {
        Spec = "OpenMoE-Tiny", Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(_root, run),
        Steps = steps, Batch = 2, SequenceLength = 32, Objective = "ul2-then-causal", SwitchStep = 1, Warmup = 10, CheckpointEvery = 2,
    };

    [Fact]
    public void Train_writes_one_metrics_line_per_step_and_checkpoints()
    {
        var (console, writer) = Console();
        Assert.Equal(0, TrainCommand.Run(Tiny("train", 3), "cpu", console));
        var lines = File.ReadAllLines(Path.Combine(_root, "train", "metrics.jsonl"));
        Assert.Equal(3, lines.Length);
        Assert.All(lines, line => Assert.Contains("\"drop_ratio\":{\"1\":", line));
        Assert.Equal(3, new CheckpointTrainingStore(OpenMoE.Model.Specs.ModelSpecs.Find("OpenMoE-Tiny"), Path.Combine(_root, "train")).LatestStep);
        Assert.Contains("done: step 3", writer.ToString());
    }

    [Fact]
    public void Train_rejects_a_sequence_longer_than_the_context()
    {
        var result = OpenMoE.Tests.Cli.CliRunner.Invoke("train", "--data", RepositoryFiles.PathOf("data/corpus"), "--seq", "4096",
            "--out", Path.Combine(_root, "long"), "--device", "cpu");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --seq 4096 exceeds the context length 256 of OpenMoE-Tiny.", Assert.Single(result.ErrorLines));
        Assert.False(Directory.Exists(Path.Combine(_root, "long")));
    }

    [Fact]
    public void Demo_prints_losses_routing_summary_and_a_sample()
    {
        var (console, writer) = Console();
        // Four steps need not beat the unigram baseline (then the demo says so and fails); the summary is printed either way.
        try { DemoCommand.Run(Tiny("demo", 4) with { Batch = 2, SequenceLength = 32 }, "The ", console); }
        catch (CommandFailedException) { }
        string output = writer.ToString();
        Assert.Contains("unigram baseline", output);
        Assert.Contains("model after training", output);
        Assert.Contains("share of kept assignments per expert", output);
        Assert.Contains("drop ratio by position", output);
        Assert.Contains("sample", output);
        Assert.True(Directory.Exists(Path.Combine(_root, "demo", "checkpoints")));
    }

    [Fact]
    public void Commands_are_registered()
    {
        var root = Program.CreateRootCommand();
        Assert.Contains(root.Subcommands, c => c.Name == "train");
        Assert.Contains(root.Subcommands, c => c.Name == "demo");
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}
