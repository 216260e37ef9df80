using System.CommandLine;
using OpenMoE.Cli.Commands;

namespace OpenMoE.Cli;

/// <summary>Entry point of the <c>openmoe</c> command.</summary>
public static class Program
{
    /// <summary>Runs <c>openmoe</c> with <paramref name="args"/>; returns the exit code.</summary>
    public static int Main(string[] args) => Run(CreateRootCommand(), args, Console.Out, Console.Error);

    /// <summary>
    /// Parses and runs <paramref name="args"/> on <paramref name="root"/> with the one error
    /// convention (<see cref="CliErrors"/>): exit code 0 on success, 2 for usage and input errors, 1 for
    /// failures while working; each failure is one <c>error:</c> line on <paramref name="error"/>.
    /// </summary>
    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        bool verbose = args.TakeWhile(a => a != "--").Contains(VerboseName);
        return CliErrors.Run(() =>
        {
            var parse = root.Parse(args);
            foreach (var warning in DeprecatedAliases.Warnings(parse))
                error.WriteLine(warning);
            if (parse.Errors.Count > 0)
            {
                // System.CommandLine would print every error and the whole help text; one line says what to fix.
                var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? ["openmoe"] : ["openmoe", .. CommandPath(parse)]);
                // "Unrecognized command or argument" says more than the "required command" error it comes with.
                var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
                CliErrors.WriteError(error, $"{first.Message} (see '{command} --help')");
                return CliErrors.UsageError;
            }
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }, error, verbose);
    }

    private const string VerboseName = "--verbose";

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            names.Add(result.Command.Name);
        names.Reverse();
        return names;
    }

    /// <summary>
    /// The root command with every subcommand. Each lives in <c>Commands/&lt;Name&gt;Command.cs</c>
    /// and exposes <c>public static Command Create()</c>; register it here with one line (an explicit
    /// list rather than reflection, so a trimmed single-file publish keeps every command).
    /// </summary>
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("openmoe: OpenMoE mixture-of-experts language models on ILGPU (CUDA and CPU). " +
            "Exit codes: 0 done, 1 a failure while working (disk full, divergence, run folder in use), 2 a usage or input error.");
        root.Options.Add(new Option<bool>(VerboseName) { Description = "Print the stack trace of an error.", Recursive = true });
        root.Subcommands.Add(SpecsCommand.Create());
        root.Subcommands.Add(PlanCommand.Create());
        root.Subcommands.Add(SelftestCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CheckpointCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(UpcycleCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(AnalyzeCommand.Create(OpenMoE.Analysis.AnalysisModelSource.FromWeights));
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ExpertPlanCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        return root;
    }
}
