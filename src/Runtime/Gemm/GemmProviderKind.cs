namespace OpenMoE.Runtime.Gemm;

/// <summary>Which GEMM implementation <see cref="GemmProviders.Create"/> returns.</summary>
public enum GemmProviderKind
{
    /// <summary>The fastest for the accelerator: cuBLAS on CUDA, SIMD on CPU, tiled ILGPU elsewhere.</summary>
    Auto,

    /// <summary>Blocked SIMD GEMM on the CPU accelerator's host memory.</summary>
    Simd,

    /// <summary>The portable ILGPU tiled kernel (any accelerator).</summary>
    IlgpuTiled,

    /// <summary>cuBLAS (libcublas.so.13/12) on a CUDA accelerator.</summary>
    CuBlas,
}
