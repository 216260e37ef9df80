using System.CommandLine;
using OpenMoE.Cli.Commands;

namespace OpenMoE.Cli;

/// <summary>Entry point of the <c>openmoe</c> command.</summary>
public static class Program
{
    /// <summary>Runs <c>openmoe</c> with <paramref name="args"/>; returns the exit code.</summary>
    public static int Main(string[] args) => CreateRootCommand().Parse(args).Invoke();

    /// <summary>
    /// The root command with every subcommand. Each lives in <c>Commands/&lt;Name&gt;Command.cs</c>
    /// and exposes <c>public static Command Create()</c>; register it here with one line (an explicit
    /// list rather than reflection, so a trimmed single-file publish keeps every command).
    /// </summary>
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("openmoe: OpenMoE mixture-of-experts language models on ILGPU (CUDA and CPU).");
        root.Subcommands.Add(SpecsCommand.Create());
        root.Subcommands.Add(SelftestCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CheckpointCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(AnalyzeCommand.Create(OpenMoE.Analysis.AnalysisModelSource.FromWeights));
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        return root;
    }
}
