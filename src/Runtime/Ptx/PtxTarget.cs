using ILGPU.Runtime.Cuda;

namespace OpenMoE.Runtime.Ptx;

/// <summary>
/// A CUDA device architecture to compile kernels for, with its ptxas name (<c>sm_80</c>).
/// ILGPU writes <c>.target</c> as the lowest architecture whose capabilities the device has, so
/// the PTX for sm_90 says <c>.target sm_80</c>: the driver JIT-compiles exactly that for an H100/H200,
/// and ptxas <c>-arch=sm_90</c> does the same ahead of time.
/// </summary>
public sealed record PtxTarget(string Name, CudaArchitecture Architecture, CudaInstructionSet InstructionSet)
{
    // PTX ISA 8.0 (CUDA 12.0): sm_90 needs 7.8 or newer, and the CI's ptxas (CUDA 12.4) reads at most 8.4.

    /// <summary>A100 (Ampere).</summary>
    public static PtxTarget Sm80 { get; } = new("sm_80", CudaArchitecture.SM_80, CudaInstructionSet.ISA_80);

    /// <summary>H100/H200 (Hopper), the lent GPU machine's chip.</summary>
    public static PtxTarget Sm90 { get; } = new("sm_90", CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

    /// <summary>The targets CI assembles every kernel for.</summary>
    public static IReadOnlyList<PtxTarget> All { get; } = [Sm80, Sm90];
}
