using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// Turns the errors a user can cause (bad options, missing files, wrong shapes, no GPU) into one
/// red line and exit code 2, instead of a stack trace. Bugs still surface as exceptions.
/// </summary>
internal static class CliErrors
{
    /// <summary>Runs <paramref name="body"/>, reporting user errors on <paramref name="console"/>.</summary>
    public static int Run(IAnsiConsole console, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            console.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 2;
        }
    }

    private static bool IsUserError(Exception ex) => ex is ArgumentException or FileNotFoundException or DirectoryNotFoundException
        or FormatException or CheckpointException or DeviceUnavailableException or DeviceOutOfMemoryException or InvalidDataException;
}
