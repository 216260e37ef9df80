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
