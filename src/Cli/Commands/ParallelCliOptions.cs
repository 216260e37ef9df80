using System.CommandLine;
using OpenMoE.Model.Parallel;
using OpenMoE.Runtime.Communication;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>--expert-parallel E</c> for commands that run under <c>mpiexec -n E</c>: the communicator of the
/// job, the check that the ranks run the same command, and rank 0 as the only one that prints.
/// </summary>
internal sealed class ParallelCliOptions
{
    public Option<int> ExpertParallel { get; } = new Option<int>("--expert-parallel")
    {
        Description = "Split every MoE layer's experts over this many MPI ranks (start the command with mpiexec -n E; docs/parallelism.md).",
        DefaultValueFactory = _ => 1,
    }.AtLeast(1);

    public void AddTo(Command command) => command.Options.Add(ExpertParallel);

    /// <summary>
    /// The job's expert parallelism (null for one process). Its ranks must be exactly E, started by
    /// mpiexec, and agree on every option of the command line (checked here, before any work).
    /// </summary>
    public ExpertParallelism? Start(ParseResult parse, ICommunicator communicator)
    {
        int e = parse.GetValue(ExpertParallel);
        if (e != communicator.Size)
            throw new UsageException(communicator.Size == 1
                ? $"--expert-parallel {e} needs {e} MPI ranks; start the command with mpiexec -n {e} (MPICH: docs/parallelism.md)."
                : $"This job has {communicator.Size} MPI ranks but --expert-parallel {e}; pass --expert-parallel {communicator.Size} or start mpiexec -n {e}.");
        RankAgreement.Require(communicator, Settings(parse));
        return e > 1 ? new ExpertParallelism(communicator) : null;
    }

    /// <summary>Rank 0 prints; the other ranks' consoles write nowhere, so a job shows one progress display and one report.</summary>
    public static IAnsiConsole ConsoleFor(ICommunicator communicator, IAnsiConsole console) =>
        communicator.Rank == 0 ? console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

    /// <summary>Every option of the command line as (name, its tokens): what all ranks must share.</summary>
    private static List<(string Name, string Value)> Settings(ParseResult parse) =>
        parse.CommandResult.Command.Options
            .Select(option => (option.Name, Value: parse.GetResult(option) is { } result ? string.Join(' ', result.Tokens.Select(t => t.Value)) : ""))
            .ToList();
}
