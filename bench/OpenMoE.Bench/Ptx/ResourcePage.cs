using System.Globalization;
using System.Text;
using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Bench.Ptx;

/// <summary>Renders a <see cref="PtxResourceReport"/> as the Markdown page docs/ptx-resources.md.</summary>
public static class ResourcePage
{
    /// <summary>The whole page, with the command that regenerates it.</summary>
    public static string Render(PtxResourceReport report)
    {
        var sm = report.Sm90Limits;
        var page = new StringBuilder();
        page.AppendLine("# GPU resources per kernel (ptxas, no GPU needed)");
        page.AppendLine();
        page.AppendLine("Generated; do not edit by hand. Regenerate with");
        page.AppendLine();
        page.AppendLine("```");
        page.AppendLine("scripts/ptxas-check.sh --markdown docs/ptx-resources.md");
        page.AppendLine("```");
        page.AppendLine();
        page.AppendLine("which fetches ptxas (`scripts/fetch-ptxas.sh`) and runs `bench ptx` (bench/OpenMoE.Bench/Ptx; the JSON it");
        page.AppendLine("prints has the same figures).");
        page.AppendLine(Invariant($"Assembler: {report.PtxasVersion}. Every kernel of `KernelCatalog.EntryPoints` (generic ones closed over"));
        page.AppendLine("`SelfTestDims`) is compiled by ILGPU to PTX (ISA 8.0) for each device and assembled with `ptxas -v -arch=sm_80`");
        page.AppendLine("and `-arch=sm_90`. ILGPU writes `.target sm_80` for sm_90 too (the lowest architecture with the capabilities");
        page.AppendLine("it uses), and the driver JIT-compiles that for an H100/H200 as ptxas does here.");
        page.AppendLine(report.OptimizedKernelIl
            ? "Kernels from a Release build, as they run (a Debug build's IL gives ILGPU different PTX and register counts)."
            : "Kernels from a Debug build: its IL gives ILGPU different PTX and register counts than the Release build that runs.");
        page.AppendLine();
        page.AppendLine("Each figure is sm_80 / sm_90: registers per thread, stack frame bytes per thread, spill store and");
        page.AppendLine("load bytes, static shared memory bytes per block. Occupancy is theoretical, on sm_90 (H100/H200), at the");
        page.AppendLine(Invariant($"launchers' {report.ThreadsPerBlock} threads per block (`LaunchShapes.CudaGroupSize`), from {sm.RegistersPerSm} registers per SM"));
        page.AppendLine(Invariant($"(allocated per warp in units of {sm.RegisterAllocationUnit}, at most {sm.MaxRegistersPerThread} per thread), {sm.MaxWarpsPerSm} warps and {sm.MaxBlocksPerSm} blocks per SM,"));
        page.AppendLine(Invariant($"{sm.SharedMemoryPerSm / 1024} KB shared memory per SM ({sm.MaxSharedMemoryPerBlock / 1024} KB per block, {sm.ReservedSharedMemoryPerBlock} B reserved per block, {sm.SharedMemoryAllocationUnit} B units)."));
        page.AppendLine("It matters where a grid fills the GPU; a launch of a single group (the small fixed-order passes) uses one");
        page.AppendLine("SM whatever it says. Kernels named `*Packed` are the CPU accelerator's layout; CUDA runs the one-float kernels.");
        page.AppendLine();
        page.AppendLine("| kernel | registers | stack | spill stores | spill loads | smem | sm_90 occupancy |");
        page.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var kernel in report.Kernels)
        {
            string Both(Func<PtxasResources, int> figure)
                => string.Join(" / ", kernel.ByArchitecture.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => figure(pair.Value).ToString(CultureInfo.InvariantCulture)));
            var o = kernel.Sm90Occupancy;
            page.AppendLine(Invariant(
                $"| `{kernel.Kernel}` | {Both(r => r.Registers)} | {Both(r => r.StackFrameBytes)} | {Both(r => r.SpillStoreBytes)} | {Both(r => r.SpillLoadBytes)} | {Both(r => r.SharedMemoryBytes)} | {Math.Round(o.Fraction * 100)}% ({o.BlocksPerSm} blocks, {o.LimitedBy.ToString().ToLowerInvariant()}) |"));
        }
        page.AppendLine();
        page.AppendLine("## Local memory");
        page.AppendLine();
        if (report.LocalMemoryKernels.Count == 0)
            page.AppendLine("No kernel has a stack frame or spills.");
        else
        {
            page.AppendLine("Kernels with a stack frame or spills (per-thread local memory, DRAM-backed):");
            page.AppendLine();
            foreach (string kernel in report.LocalMemoryKernels)
                page.AppendLine($"- `{kernel}`");
        }
        if (report.Failures.Count > 0)
        {
            page.AppendLine();
            page.AppendLine("## Rejected by ptxas");
            page.AppendLine();
            foreach (var failure in report.Failures)
                page.AppendLine($"- `{failure.Kernel}` ({failure.Architecture})");
        }
        return page.ToString();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
