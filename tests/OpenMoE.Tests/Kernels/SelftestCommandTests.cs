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
        var result = OpenMoE.Tests.Cli.CliRunner.Invoke("selftest", "--device", "tpu");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --device must be one of auto, cuda, cpu; got 'tpu'. (see 'openmoe selftest --help')", Assert.Single(result.ErrorLines));
    }
}
