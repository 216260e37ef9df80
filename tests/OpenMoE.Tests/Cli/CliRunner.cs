using System.CommandLine;
using OpenMoE.Cli;

namespace OpenMoE.Tests.Cli;

/// <summary>Runs <c>openmoe</c> in process exactly as <c>Main</c> does (the one error handler included), capturing stdout and stderr.</summary>
internal static class CliRunner
{
    /// <summary>The result of one command line.</summary>
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        /// <summary>The <c>error:</c> lines on stderr.</summary>
        public string[] ErrorLines => Err.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();

        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    /// <summary>Runs <paramref name="args"/> on the real root command.</summary>
    public static Result Invoke(params string[] args) => Invoke(Program.CreateRootCommand(), args);

    /// <summary>Runs <paramref name="args"/> on <paramref name="root"/> (e.g. a command built with a test double).</summary>
    public static Result Invoke(RootCommand root, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(root, args, output, error);
        return new Result(code, output.ToString(), error.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }
}
