using System.Diagnostics;

namespace OpenMoE.Bench.Ptx;

/// <summary>Runs NVIDIA's PTX assembler as a child process.</summary>
public sealed class Ptxas(string path)
{
    /// <summary>The release line of <c>ptxas --version</c>, e.g. <c>Cuda compilation tools, release 12.4, V12.4.131</c>.</summary>
    public string Version()
    {
        var (exitCode, output) = Execute(["--version"]);
        if (exitCode != 0)
            throw new InvalidOperationException($"'{path} --version' exited with {exitCode}: {output}");
        return output.Split('\n').Select(line => line.Trim()).LastOrDefault(line => line.StartsWith("Cuda compilation tools", StringComparison.Ordinal))
            ?? output.Trim();
    }

    /// <summary>Assembles <paramref name="ptxFile"/> for <paramref name="architecture"/> with <c>-v</c>; the cubin goes next to it.</summary>
    public (int ExitCode, string Output) Assemble(string ptxFile, string architecture)
        => Execute([$"-arch={architecture}", "-v", "-o", Path.ChangeExtension(ptxFile, ".cubin"), ptxFile]);

    private (int ExitCode, string Output) Execute(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {path}");
        // Both streams at once: ptxas writes -v to stderr and errors to either, and a full pipe would block it.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
