using System.Text.Json;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// The one place where a failure becomes output: one <c>error:</c> line on stderr and an exit code,
/// 2 for usage and input errors (a bad option, a missing or unreadable file, a device that is not
/// there), 1 for failures while working (a full disk, divergence, a run folder in use, a bug). The
/// stack trace is printed only with <c>--verbose</c>. Commands throw; they never print errors themselves.
/// </summary>
internal static class CliErrors
{
    /// <summary>Exit code of usage and input errors.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of failures while working.</summary>
    public const int RuntimeFailure = 1;

    /// <summary>Runs <paramref name="body"/>; on an exception prints one line to <paramref name="error"/> and returns its exit code.</summary>
    public static int Run(Func<int> body, TextWriter error, bool verbose)
    {
        try
        {
            return body();
        }
        catch (Exception ex)
        {
            return Report(ex, error, verbose);
        }
    }

    /// <summary>Prints <paramref name="ex"/> as one <c>error:</c> line (plus its stack trace when verbose); returns the exit code.</summary>
    public static int Report(Exception ex, TextWriter error, bool verbose)
    {
        int code = ExitCodeOf(ex);
        string message = OneLine(MessageOf(ex));
        if (code == RuntimeFailure && !IsExpectedFailure(ex))
            message = $"internal error ({ex.GetType().Name}): {message}{(verbose ? "" : " Run again with --verbose for the stack trace and report it.")}";
        // A run that does not fit shows its whole memory plan above the one error line.
        if (ex is OpenMoE.Training.Planning.MemoryPlanException plan)
            error.WriteLine(plan.Table);
        WriteError(error, message);
        if (verbose)
            error.WriteLine(ex.ToString());
        return code;
    }

    /// <summary>Writes <c>error: MESSAGE</c>, with a red prefix when the writer is a terminal.</summary>
    public static void WriteError(TextWriter error, string message)
    {
        bool color = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        error.WriteLine(color ? $"\u001b[31merror:\u001b[0m {message}" : $"error: {message}");
    }

    /// <summary>2 for what the user can fix in the command line or the input files, 1 otherwise.</summary>
    public static int ExitCodeOf(Exception ex) => ex switch
    {
        UsageException or ArgumentException or FormatException or InvalidDataException or JsonException => UsageError,
        FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException => UsageError,
        CheckpointException or DeviceUnavailableException => UsageError,
        _ => RuntimeFailure,
    };

    /// <summary>Runtime failures that are not bugs: their message already says what happened and what to do.</summary>
    private static bool IsExpectedFailure(Exception ex) => ex is IOException or OpenMoE.Training.TrainingDivergedException
        or DeviceOutOfMemoryException or OutOfMemoryException or OpenMoE.Training.RunFolderException or CommandFailedException;

    // ArgumentException appends " (Parameter 'name')", an internal name the user never typed.
    private static string MessageOf(Exception ex) =>
        ex is ArgumentException { ParamName: { } name } a ? a.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : ex.Message;

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A usage or input error found by a command (exit code 2); the message names the option or file and what to do.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A command ran but did not achieve what it promises (exit code 1); the message says what happened and what to try.</summary>
internal sealed class CommandFailedException(string message) : Exception(message);
