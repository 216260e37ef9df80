using System.Runtime.InteropServices;

namespace OpenMoE.Bench.Gemm;

/// <summary>The two OpenBLAS entry points the GEMM bench compares against (Debian libopenblas0).</summary>
internal static unsafe partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void CblasSgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "openblas_set_num_threads")]
    public static partial void SetNumThreads(int threads);

    [LibraryImport(Library, EntryPoint = "openblas_get_config")]
    private static partial IntPtr GetConfigPtr();

    /// <summary>OpenBLAS's build string (version, core it picked, thread model).</summary>
    public static string Config => Marshal.PtrToStringAnsi(GetConfigPtr()) ?? "";

    /// <summary>Row-major cblas_sgemm.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc) =>
        CblasSgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
