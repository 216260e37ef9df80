using System.CommandLine;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe bench gemm --device auto|cpu|cuda</c>: GFLOP/s of the device's GEMM provider on
/// OpenMoE-Base/16E's shapes (T = 512 tokens), for checking a machine that has no .NET SDK
/// (scripts/gpu-check.sh). The full benchmarks with same-run references live in bench/.
/// </summary>
public static class BenchCommand
{
    /// <summary>(label, M, N, K, transB) of Base's products: projections, FFN, LM head (V cut to 32768).</summary>
    private static readonly (string Label, int M, int N, int K, bool TransB)[] BaseShapes =
    [
        ("q/k/v/o projection  512x768x768", 512, 768, 768, true),
        ("FFN gate  512x4096x768", 512, 4096, 768, true),
        ("FFN down  512x768x2048", 512, 768, 2048, true),
        ("expert gate (stacked)  160x4096x768", 160, 4096, 768, false),
        ("LM head  512x32768x768", 512, 32768, 768, true),
    ];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var device = ModelOptions.DeviceOption();
        var gemm = new Command("gemm", "GFLOP/s of the GEMM provider on OpenMoE-Base shapes.") { device };
        gemm.SetAction(parse =>
        {
            var console = CliConsole.Out(parse);
            using var compute = DeviceFactory.Create(DeviceFactory.Parse(parse.GetValue(device)!));
            using var provider = GemmProviders.Create(compute.Accelerator);
            console.MarkupLineInterpolated($"device [green]{compute.Description}[/], provider [green]{provider.Name}[/]");
            var table = new Table().AddColumns("shape", "GFLOP/s");
            foreach (var (label, m, n, k, transB) in BaseShapes)
                table.AddRow(label, GemmThroughput.Measure(provider, GemmDesc.Create(m, n, k, transB: transB)).ToString("F1"));
            console.Write(table);
            return 0;
        });
        return new Command("bench", "Quick on-device benchmarks (full benchmarks: bench/).") { gemm };
    }
}
