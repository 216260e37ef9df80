using System.CommandLine;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// Spectre consoles on the invocation's stdout and stderr. Reports (tables, JSON) go to
/// <see cref="Out"/>; progress, the device line and other chatter go to <see cref="Err"/> when the
/// command prints machine-readable output, so <c>--json</c> output is alone on stdout.
/// </summary>
internal static class CliConsole
{
    /// <summary>The console on the invocation's output.</summary>
    public static IAnsiConsole Out(ParseResult parse) => For(parse.InvocationConfiguration.Output, Console.Out);

    /// <summary>The console on the invocation's error stream.</summary>
    public static IAnsiConsole Err(ParseResult parse) => For(parse.InvocationConfiguration.Error, Console.Error);

    private static IAnsiConsole For(TextWriter writer, TextWriter processStream)
    {
        if (ReferenceEquals(writer, processStream))
            return AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        // A redirected writer (a test, a log): plain text, and wide enough that paths do not wrap.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 400;
        return console;
    }
}
