using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Bench.Ptx;

/// <summary>One kernel's ptxas report per architecture and its theoretical occupancy on sm_90.</summary>
/// <param name="Kernel">The catalog name, e.g. <c>Attention.Causal&lt;TDims&gt;</c>.</param>
/// <param name="ByArchitecture">ptxas's figures keyed by architecture (<c>sm_80</c>, <c>sm_90</c>).</param>
/// <param name="Sm90Occupancy">From the sm_90 figures at the launchers' CUDA group size.</param>
public sealed record KernelResources(string Kernel, IReadOnlyDictionary<string, PtxasResources> ByArchitecture, Occupancy Sm90Occupancy)
{
    /// <summary>Whether any architecture needs a stack frame or spills.</summary>
    public bool UsesLocalMemory => ByArchitecture.Values.Any(resources => resources.UsesLocalMemory);
}

/// <summary>A kernel ptxas rejected, with what it said.</summary>
public sealed record PtxasFailure(string Kernel, string Architecture, string File, int ExitCode, string Output);

/// <summary>The whole report: what <c>bench ptx</c> prints as JSON and renders as Markdown.</summary>
/// <param name="PtxasVersion">ptxas's release line.</param>
/// <param name="OptimizedKernelIl">Whether the kernels assembly is a Release build: Debug IL gives ILGPU different PTX, with different register counts.</param>
/// <param name="ThreadsPerBlock">The block size occupancy is computed for.</param>
/// <param name="Sm90Limits">The per-SM limits occupancy is computed from.</param>
/// <param name="Kernels">Every kernel ptxas accepted for sm_90, in catalog order.</param>
/// <param name="Failures">Every kernel and architecture ptxas rejected.</param>
public sealed record PtxResourceReport(
    string PtxasVersion, bool OptimizedKernelIl, int ThreadsPerBlock, SmLimits Sm90Limits, IReadOnlyList<KernelResources> Kernels, IReadOnlyList<PtxasFailure> Failures)
{
    /// <summary>Kernels with a stack frame or spills on some architecture.</summary>
    public IReadOnlyList<string> LocalMemoryKernels => [.. Kernels.Where(kernel => kernel.UsesLocalMemory).Select(kernel => kernel.Kernel)];
}
