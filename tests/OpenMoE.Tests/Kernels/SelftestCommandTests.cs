using OpenMoE.Runtime.SelfTest;
using OpenMoE.Model.SelfTest;
using OpenMoE.Cli.Commands;
using Spectre.Console;

namespace OpenMoE.Tests.Kernels;

public class SelftestCommandTests
{
    private static (int ExitCode, string Output) Run(string device)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 200;
        int exitCode = SelftestCommand.Run(device, SelfTestRunner.DefaultSeed, console);
        return (exitCode, writer.ToString());
    }

    [Fact]
    public void Selftest_on_cpu_prints_every_check_and_passes()
    {
        var (exitCode, output) = Run("cpu");
        Assert.Equal(0, exitCode);
        Assert.Contains("device cpu:", output);
        Assert.All(SelfTestCatalog.Checks, check => Assert.Contains(check.Name, output));
        Assert.Contains($"all {SelfTestCatalog.Checks.Count} kernel checks passed", output);
    }

    [Fact]
    public void Selftest_with_an_unknown_device_fails_with_the_choices()
    {
        var (exitCode, output) = Run("tpu");
        Assert.Equal(1, exitCode);
        Assert.Contains("auto, cuda or cpu", output);
    }
}
