using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm;

/// <summary>
/// Matrix products on one accelerator's buffers, row-major, BLAS semantics
/// (see <see cref="GemmDesc"/>): <c>C[M,N] = Alpha * op(A)[M,K] @ op(B)[K,N] + Beta * C</c>.
/// Operands are views of that accelerator's memory and may start at any offset.
/// Calls are ordered with the kernels of the accelerator's default stream: a product sees
/// everything launched before it and kernels launched after it see its result.
/// Get one from <see cref="GemmProviders.Create"/>. Not thread-safe for concurrent calls.
/// </summary>
public interface IGemmProvider : IDisposable
{
    /// <summary>Short name for logs and benchmarks, e.g. "simd-avx512", "ilgpu-tiled", "cublas".</summary>
    string Name { get; }

    /// <summary>The accelerator whose buffers this provider multiplies.</summary>
    Accelerator Accelerator { get; }

    /// <summary>One product. a: op(A) storage, b: op(B) storage, c: [M, Ldc].</summary>
    void Sgemm(in GemmDesc desc, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c);

    /// <summary>
    /// <paramref name="batch"/> independent products of the same shape, product p using
    /// A at element p·strideA, B at p·strideB and C at p·strideC (cublasSgemmStridedBatched).
    /// Per-expert GEMMs over contiguous [E, ...] stacks use this; a stride of 0 shares the operand.
    /// </summary>
    void SgemmStridedBatched(in GemmDesc desc, ArrayView<float> a, long strideA,
        ArrayView<float> b, long strideB, ArrayView<float> c, long strideC, int batch);
}
