using System.CommandLine;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe checkpoint info|verify PATH</c>.</summary>
public static class CheckpointCommand
{
    /// <summary>The <c>checkpoint</c> command with its subcommands.</summary>
    public static Command Create() =>
        new("checkpoint", "Inspect and verify OpenMoE checkpoints (a checkpoint folder, or a run folder for its latest).")
        {
            CheckpointInfoCommand.Create(),
            CheckpointVerifyCommand.Create(),
        };

    /// <summary>A Spectre console writing to the invocation's output (Console.Out, or a test's writer).</summary>
    internal static IAnsiConsole ConsoleFor(ParseResult parseResult)
    {
        var output = parseResult.InvocationConfiguration.Output;
        if (ReferenceEquals(output, Console.Out))
            return AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // A redirected writer (a test, a log): plain text, and wide enough that paths do not wrap.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 400;
        return console;
    }

    /// <summary>Bytes as "1.23 GiB".</summary>
    internal static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : $"{value:0.##} {units[unit]}";
    }

    /// <summary>Runs <paramref name="work"/> under a progress bar on interactive terminals, plainly elsewhere.</summary>
    internal static void WithProgress(IAnsiConsole console, string title, long total, Action<IProgress<long>?> work)
    {
        if (!console.Profile.Capabilities.Interactive || total <= 0)
        {
            work(null);
            return;
        }
        console.Progress().Start(context =>
        {
            var task = context.AddTask(Markup.Escape(title), maxValue: total);
            work(new Progress<long>(done => task.Value = done));
            task.Value = total;
        });
    }
}
