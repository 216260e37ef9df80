using OpenMoE.Runtime.SelfTest;
using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.SelfTest;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe selftest --device auto|cpu|cuda</c>: runs every kernel of the catalog against its
/// plain-C# reference on the chosen device and prints a pass/fail table (worst error per op and
/// its tolerance). Exit code 0 when all pass, 1 otherwise. Users run it to check a new GPU box.
/// </summary>
public static class SelftestCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var device = ModelOptions.DeviceOption();
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the random inputs.",
            DefaultValueFactory = _ => SelfTestRunner.DefaultSeed,
        };
        var command = new Command("selftest", "Check every kernel against its reference on a device.") { device, seed };
        command.SetAction(parse => Run(parse.GetValue(device)!, parse.GetValue(seed), CliConsole.Out(parse)));
        return command;
    }

    /// <summary>Runs the self-test and writes the table to <paramref name="console"/>; returns the exit code.</summary>
    internal static int Run(string deviceName, int seed, IAnsiConsole console)
    {
        using (var device = DeviceFactory.Create(DeviceFactory.Parse(deviceName)))
        {
            console.MarkupLineInterpolated($"device {device.Description}");
            var results = SelfTestRunner.RunAll(device, SelfTestCatalog.Checks, seed);
            console.Write(BuildTable(results));
            int failed = results.Count(r => !r.Passed);
            if (failed > 0)
                throw new CommandFailedException($"{failed} of {results.Count} kernel checks failed on {device.Description} (see the table).");
            console.MarkupLineInterpolated($"[green]all {results.Count} kernel checks passed[/]");
            return 0;
        }
    }

    private static Table BuildTable(IReadOnlyList<KernelCheckResult> results)
    {
        var table = new Table().AddColumns("op", "result", "worst abs error", "error / bound", "tolerance", "cases", "detail");
        foreach (var r in results)
        {
            string verdict = r.Passed ? "[green]pass[/]" : "[red]FAIL[/]";
            // The worst element is only worth the width when something failed.
            string detail = r.Passed ? "" : r.Error ?? r.WorstCase;
            table.AddRow(
                Markup.Escape(r.Name), verdict,
                r.WorstAbsError.ToString("G3", CultureInfo.InvariantCulture),
                r.WorstRatio.ToString("F3", CultureInfo.InvariantCulture),
                Markup.Escape(r.Tolerance.ToString()),
                r.Comparisons.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(detail));
        }
        return table;
    }
}
