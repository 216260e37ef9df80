using System.Diagnostics;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenMoE.Kernels;
using OpenMoE.Runtime.Kernels;
using OpenMoE.Runtime.SelfTest;
using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Bench.Ptx;

/// <summary>
/// <c>bench ptx [--out DIR] [--ptxas PATH] [--markdown FILE]</c>: writes the PTX of every kernel in
/// <see cref="KernelCatalog.EntryPoints"/> to <c>DIR/sm_XX/</c> (default <c>artifacts/ptx</c>). Given
/// ptxas, assembles each for sm_80 and sm_90 with <c>-v</c> and prints JSON with registers, stack
/// frame, spills and shared memory per kernel, and the theoretical sm_90 occupancy at the launchers'
/// CUDA group size; <c>--markdown</c> also writes that as a Markdown page. Exits 1 if ptxas rejects
/// any kernel, naming each.
/// </summary>
public static class PtxBench
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        // Kernel names hold '<' and '>'; this JSON is read by people and scripts, never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs the bench; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        string folder = Arg(args, "--out") ?? Path.Combine("artifacts", "ptx");
        string? ptxasPath = Arg(args, "--ptxas");
        string? markdown = Arg(args, "--markdown");
        var files = PtxTarget.All.ToDictionary(target => target, target => PtxFiles.Write(folder, target));
        Console.Error.WriteLine($"bench ptx: {KernelCatalog.EntryPoints.Count} kernels x {PtxTarget.All.Count} targets written to {folder}");
        if (ptxasPath is null)
        {
            Console.WriteLine(JsonSerializer.Serialize(files.ToDictionary(pair => pair.Key.Name, pair => pair.Value.Select(file => file.Path)), Json));
            return 0;
        }

        var ptxas = new Ptxas(ptxasPath);
        var report = Assemble(ptxas, files);
        Console.WriteLine(JsonSerializer.Serialize(report, Json));
        if (markdown is not null)
            File.WriteAllText(markdown, ResourcePage.Render(report));
        foreach (var failure in report.Failures)
            Console.Error.WriteLine($"ptxas -arch={failure.Architecture} rejected kernel {failure.Kernel} ({failure.File}, exit {failure.ExitCode}):\n{failure.Output}");
        return report.Failures.Count == 0 ? 0 : 1;
    }

    private static PtxResourceReport Assemble(Ptxas ptxas, Dictionary<PtxTarget, IReadOnlyList<(string Kernel, string Path)>> files)
    {
        var failures = new List<PtxasFailure>();
        var perKernel = new Dictionary<string, Dictionary<string, PtxasResources>>(StringComparer.Ordinal);
        foreach (var (target, kernels) in files)
        {
            foreach (var (kernel, path) in kernels)
            {
                var (exitCode, output) = ptxas.Assemble(path, target.Name);
                var entries = exitCode == 0 ? PtxasOutputParser.Parse(output) : [];
                // One kernel per file, so anything but one entry for this architecture is a failure to report, not to guess at.
                if (exitCode != 0 || entries.Count != 1 || entries[0].Architecture != target.Name)
                {
                    failures.Add(new PtxasFailure(kernel, target.Name, path, exitCode, output));
                    continue;
                }
                perKernel.TryAdd(kernel, new Dictionary<string, PtxasResources>(StringComparer.Ordinal));
                perKernel[kernel][target.Name] = entries[0];
            }
        }

        var rows = new List<KernelResources>();
        foreach (var entry in KernelCatalog.EntryPoints)
        {
            if (!perKernel.TryGetValue(entry.Name, out var byArchitecture) || !byArchitecture.TryGetValue(PtxTarget.Sm90.Name, out var sm90))
                continue;
            var occupancy = Occupancy.Theoretical(SmLimits.Sm90, LaunchShapes.CudaGroupSize, sm90.Registers, sm90.SharedMemoryBytes);
            rows.Add(new KernelResources(entry.Name, byArchitecture, occupancy));
        }
        bool optimized = typeof(IModelDims).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;
        return new PtxResourceReport(ptxas.Version(), optimized, LaunchShapes.CudaGroupSize, SmLimits.Sm90, rows, failures);
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        if (i < 0)
            return null;
        if (i + 1 >= args.Length)
            throw new ArgumentException($"{name} needs a value");
        return args[i + 1];
    }
}
