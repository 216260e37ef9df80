using System.Diagnostics;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// Starts a real MPI job: <c>mpiexec -n P dotnet OpenMoE.Parallel.RankHost.dll ...</c> (MPICH, which
/// .ci/run installs). A job past its time limit is killed and fails the test, so a hang cannot stall the suite.
/// </summary>
internal static class MpiJob
{
    /// <summary>The xunit collection of every test that starts MPI jobs: one job at a time on a loaded machine.</summary>
    public const string Collection = "MPI jobs";

    /// <summary>tests/OpenMoE.Parallel.RankHost output next to ours (same configuration and framework).</summary>
    private static string HostDll()
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!;
        var testsRoot = configuration.Parent!.Parent!.Parent!;
        var dll = Path.Combine(testsRoot.FullName, "OpenMoE.Parallel.RankHost", "bin", configuration.Name, framework.Name, "OpenMoE.Parallel.RankHost.dll");
        Assert.True(File.Exists(dll), $"build tests/OpenMoE.Parallel.RankHost first: {dll} is missing");
        return dll;
    }

    /// <summary>mpiexec on PATH; without it the MPI tests fail saying how to install MPICH (they are part of the suite, not optional).</summary>
    private static string Mpiexec()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => Path.Combine(dir, "mpiexec")).FirstOrDefault(File.Exists);
        Assert.True(found is not null, "mpiexec is not on PATH: install MPICH (apt-get install mpich) to run the multi-process tests");
        return found!;
    }

    /// <summary>The <c>openmoe</c> CLI next to the tests (the test project references it).</summary>
    public static string CliDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "openmoe.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        return dll;
    }

    /// <summary>Runs the test host on <paramref name="ranks"/> ranks to its end (or kills it after <paramref name="limit"/>); returns exit code, output and seconds taken.</summary>
    public static (int ExitCode, string Output, double Seconds) Run(int ranks, TimeSpan limit, params string[] arguments) =>
        RunMpiexec(limit, ["-n", ranks.ToString(), "dotnet", HostDll(), .. arguments]);

    /// <summary>Runs <c>mpiexec</c> with <paramref name="arguments"/> as given (e.g. two programs: <c>-n 1 a : -n 1 b</c>).</summary>
    public static (int ExitCode, string Output, double Seconds) RunMpiexec(TimeSpan limit, params string[] arguments)
    {
        var info = new ProcessStartInfo(Mpiexec()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in arguments)
            info.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"mpiexec {string.Join(' ', arguments)} ran past {limit.TotalSeconds} s: {stdout.Result}{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result, clock.Elapsed.TotalSeconds);
    }
}
