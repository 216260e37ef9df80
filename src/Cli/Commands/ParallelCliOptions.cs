using System.CommandLine;
using OpenMoE.Model.Parallel;
using OpenMoE.Runtime.Communication;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>--expert-parallel E</c> (and, for training, <c>--data-parallel D</c>) for commands that run under
/// <c>mpiexec -n E*D</c>: the communicator of the job, the check that the ranks run the same command,
/// and rank 0 as the only one that prints.
/// </summary>
internal sealed class ParallelCliOptions
{
    /// <summary>The options; <paramref name="dataParallel"/> adds <c>--data-parallel</c> (training only).</summary>
    public ParallelCliOptions(bool dataParallel = false)
    {
        if (dataParallel)
            DataParallel = new Option<int>("--data-parallel")
            {
                Description = "Train this many replicas on different rows of each batch, averaging their gradients (ranks = expert-parallel x data-parallel; docs/parallelism.md).",
                DefaultValueFactory = _ => 1,
            }.AtLeast(1);
    }

    public Option<int> ExpertParallel { get; } = new Option<int>("--expert-parallel")
    {
        Description = "Split every MoE layer's experts over this many MPI ranks (start the command with mpiexec -n E; docs/parallelism.md).",
        DefaultValueFactory = _ => 1,
    }.AtLeast(1);

    public Option<int>? DataParallel { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(ExpertParallel);
        if (DataParallel is not null)
            command.Options.Add(DataParallel);
    }

    /// <summary>
    /// The job's expert- and data-parallel sizes. Its ranks must be exactly E x D, started by mpiexec, and
    /// agree on every option of the command line (checked here, before any work).
    /// </summary>
    public (int Expert, int Data) Check(ParseResult parse, ICommunicator communicator)
    {
        int e = parse.GetValue(ExpertParallel), d = DataParallel is null ? 1 : parse.GetValue(DataParallel);
        string asked = DataParallel is null ? $"--expert-parallel {e}" : $"--expert-parallel {e} x --data-parallel {d}";
        if ((long)e * d != communicator.Size)
            throw new UsageException(communicator.Size == 1
                ? $"{asked} needs {e * d} MPI ranks; start the command with mpiexec -n {e * d} (MPICH: docs/parallelism.md)."
                : $"This job has {communicator.Size} MPI ranks but {asked} asks for {e * d}; start mpiexec -n {e * d} or change the sizes so they multiply to {communicator.Size}.");
        RankAgreement.Require(communicator, Settings(parse));
        // MPICH names a rank that is killed outright only by its PID; this line maps PIDs to ranks.
        var pids = communicator.AllGather(Environment.ProcessId);
        if (communicator.Size > 1 && communicator.Rank == 0)
            CliConsole.Err(parse).MarkupLineInterpolated(
                $"[grey]{communicator.Name}, {communicator.Size} ranks: {string.Join(", ", pids.Select((pid, rank) => $"rank {rank} = pid {pid}"))}[/]");
        return (e, d);
    }

    /// <summary>The job's expert parallelism (null for one process), after <see cref="Check"/>.</summary>
    public ExpertParallelism? Start(ParseResult parse, ICommunicator communicator) =>
        Check(parse, communicator).Expert > 1 ? new ExpertParallelism(communicator) : null;

    /// <summary>Rank 0 prints; the other ranks' consoles write nowhere, so a job shows one progress display and one report.</summary>
    public static IAnsiConsole ConsoleFor(ICommunicator communicator, IAnsiConsole console) =>
        communicator.Rank == 0 ? console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

    /// <summary>Every option of the command line as (name, its tokens): what all ranks must share.</summary>
    private static List<(string Name, string Value)> Settings(ParseResult parse) =>
        parse.CommandResult.Command.Options
            .Select(option => (option.Name, Value: parse.GetResult(option) is { } result ? string.Join(' ', result.Tokens.Select(t => t.Value)) : ""))
            .ToList();
}
