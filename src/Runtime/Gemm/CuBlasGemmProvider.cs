using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Cuda;

namespace OpenMoE.Runtime.Gemm;

/// <summary>
/// GEMM through cuBLAS on a CUDA accelerator, on the accelerator's default stream.
/// cuBLAS is column-major; a row-major C[M,N] is the column-major C^T[N,M] = op(B)^T op(A)^T,
/// so each call swaps the operands (B first, then A) and M with N, keeping the transpose flags.
/// </summary>
public sealed unsafe class CuBlasGemmProvider : IGemmProvider
{
    private readonly CuBlasLibrary lib;
    private IntPtr handle;

    /// <summary>Loads libcublas (see <see cref="CuBlasLocator"/>) and binds a handle to the accelerator's context and stream.</summary>
    public CuBlasGemmProvider(CudaAccelerator accelerator)
    {
        Accelerator = accelerator;
        lib = CuBlasLibrary.Load();
        accelerator.Bind();
        IntPtr h;
        CuBlasLibrary.Check(lib.Create(&h), "cublasCreate_v2");
        handle = h;
        var stream = (CudaStream)accelerator.DefaultStream;
        CuBlasLibrary.Check(lib.SetStream(handle, stream.StreamPtr), "cublasSetStream_v2");
        int version;
        CuBlasLibrary.Check(lib.GetVersion(handle, &version), "cublasGetVersion_v2");
        Version = version;
    }

    public string Name => "cublas";

    public Accelerator Accelerator { get; }

    /// <summary>cublasGetVersion: major·10000 + minor·100 + patch (e.g. 130000 for 13.0.0).</summary>
    public int Version { get; }

    /// <summary>The libcublas that was loaded.</summary>
    public string LibraryPath => lib.Path;

    public void Sgemm(in GemmDesc desc, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        GemmChecks.ValidateBatched(desc, a.Length, 0, b.Length, 0, c.Length, 0, 1);
        if (desc.M == 0 || desc.N == 0)
            return;
        float alpha = desc.Alpha, beta = desc.Beta;
        Accelerator.Bind();
        CuBlasLibrary.Check(lib.Sgemm(handle, Op(desc.TransB), Op(desc.TransA), desc.N, desc.M, desc.K,
            &alpha, Address(b), desc.Ldb, Address(a), desc.Lda, &beta, c.LoadEffectiveAddressAsPtr(), desc.Ldc),
            "cublasSgemm_v2");
    }

    public void SgemmStridedBatched(in GemmDesc desc, ArrayView<float> a, long strideA,
        ArrayView<float> b, long strideB, ArrayView<float> c, long strideC, int batch)
    {
        GemmChecks.ValidateBatched(desc, a.Length, strideA, b.Length, strideB, c.Length, strideC, batch);
        if (desc.M == 0 || desc.N == 0 || batch == 0)
            return;
        float alpha = desc.Alpha, beta = desc.Beta;
        Accelerator.Bind();
        CuBlasLibrary.Check(lib.SgemmStridedBatched(handle, Op(desc.TransB), Op(desc.TransA), desc.N, desc.M, desc.K,
            &alpha, Address(b), desc.Ldb, strideB, Address(a), desc.Lda, strideA,
            &beta, c.LoadEffectiveAddressAsPtr(), desc.Ldc, strideC, batch), "cublasSgemmStridedBatched");
    }

    private static int Op(bool transposed) => transposed ? CuBlasLibrary.OpT : CuBlasLibrary.OpN;

    private static IntPtr Address(ArrayView<float> view) =>
        view.Length == 0 ? IntPtr.Zero : view.LoadEffectiveAddressAsPtr();

    public void Dispose()
    {
        if (handle == IntPtr.Zero)
            return;
        Accelerator.Bind();
        lib.Destroy(handle);
        handle = IntPtr.Zero;
    }
}
