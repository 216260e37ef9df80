using OpenMoE.Runtime.Gemm.Simd;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OpenMoE.Runtime.Cuda;

namespace OpenMoE.Runtime.Gemm;

/// <summary>Picks and builds the GEMM provider for an accelerator.</summary>
public static class GemmProviders
{
    /// <summary>
    /// The provider of <paramref name="kind"/> for <paramref name="accelerator"/>. Auto gives
    /// cuBLAS on a CUDA accelerator, the SIMD GEMM on the CPU accelerator, and the ILGPU tiled
    /// kernel on anything else. Asking for a provider the accelerator cannot run (SIMD off the
    /// CPU, cuBLAS off CUDA) throws <see cref="NotSupportedException"/>; a missing cuBLAS
    /// library throws <see cref="DllNotFoundException"/> that lists where it looked.
    /// </summary>
    /// <param name="threads">Worker threads of the SIMD GEMM (default: all logical cores).</param>
    public static IGemmProvider Create(Accelerator accelerator, GemmProviderKind kind = GemmProviderKind.Auto,
        int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        var resolved = kind == GemmProviderKind.Auto ? Preferred(accelerator.AcceleratorType) : kind;
        return resolved switch
        {
            GemmProviderKind.Simd => new SimdGemmProvider(accelerator, SimdIsa.Best, threads ?? Environment.ProcessorCount),
            GemmProviderKind.IlgpuTiled => new IlgpuTiledGemmProvider(accelerator),
            GemmProviderKind.CuBlas => accelerator is CudaAccelerator cuda
                ? new CuBlasGemmProvider(cuda)
                : throw new NotSupportedException(
                    $"cuBLAS needs a CUDA accelerator, but {accelerator.Name} is {accelerator.AcceleratorType}."),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown GEMM provider kind."),
        };
    }

    /// <summary>The provider Auto picks for an accelerator type.</summary>
    public static GemmProviderKind Preferred(AcceleratorType type) => type switch
    {
        AcceleratorType.Cuda => GemmProviderKind.CuBlas,
        AcceleratorType.CPU => GemmProviderKind.Simd,
        _ => GemmProviderKind.IlgpuTiled,
    };
}
