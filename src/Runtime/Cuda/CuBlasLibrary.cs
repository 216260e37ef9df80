using System.Runtime.InteropServices;

namespace OpenMoE.Runtime.Cuda;

/// <summary>
/// Our minimal binding to the cuBLAS v2 C API (column-major), loaded at run time from
/// whichever libcublas <see cref="CuBlasLocator"/> finds. Only the entry points a
/// row-major GEMM provider needs.
/// </summary>
public sealed unsafe class CuBlasLibrary
{
    /// <summary>cublasOperation_t.</summary>
    public const int OpN = 0, OpT = 1;

    private static readonly Lock LoadLock = new();
    private static CuBlasLibrary? loaded;

    private CuBlasLibrary(string path, IntPtr handle)
    {
        Path = path;
        Create = (delegate* unmanaged<IntPtr*, int>)Export(handle, "cublasCreate_v2");
        Destroy = (delegate* unmanaged<IntPtr, int>)Export(handle, "cublasDestroy_v2");
        SetStream = (delegate* unmanaged<IntPtr, IntPtr, int>)Export(handle, "cublasSetStream_v2");
        GetVersion = (delegate* unmanaged<IntPtr, int*, int>)Export(handle, "cublasGetVersion_v2");
        Sgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, IntPtr, int, float*, IntPtr, int, int>)
            Export(handle, "cublasSgemm_v2");
        SgemmStridedBatched = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, long, IntPtr, int, long,
            float*, IntPtr, int, long, int, int>)Export(handle, "cublasSgemmStridedBatched");
    }

    /// <summary>The file that was loaded (or the soname the loader resolved).</summary>
    public string Path { get; }

    public delegate* unmanaged<IntPtr*, int> Create { get; }
    public delegate* unmanaged<IntPtr, int> Destroy { get; }
    public delegate* unmanaged<IntPtr, IntPtr, int> SetStream { get; }
    public delegate* unmanaged<IntPtr, int*, int> GetVersion { get; }

    /// <summary>cublasSgemm_v2(handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc).</summary>
    public delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, IntPtr, int, float*, IntPtr, int, int> Sgemm { get; }

    /// <summary>cublasSgemmStridedBatched(..., A, lda, strideA, B, ldb, strideB, beta*, C, ldc, strideC, batch).</summary>
    public delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, long, IntPtr, int, long,
        float*, IntPtr, int, long, int, int> SgemmStridedBatched { get; }

    /// <summary>
    /// Loads libcublas once per process. Throws <see cref="DllNotFoundException"/> listing every
    /// place tried and how to point us at the library when none loads.
    /// </summary>
    public static CuBlasLibrary Load()
    {
        lock (LoadLock)
        {
            if (loaded is not null)
                return loaded;
            var tried = new List<string>();
            foreach (var candidate in CuBlasLocator.Candidates())
            {
                PreloadLt(candidate);
                if (NativeLibrary.TryLoad(candidate, out var handle))
                    return loaded = new CuBlasLibrary(candidate, handle);
                tried.Add(candidate);
            }
            throw new DllNotFoundException(
                "cuBLAS not found. Tried: " + string.Join(", ", tried.Distinct()) + ". " +
                $"Set {CuBlasLocator.PathVariable} to libcublas.so.13 or its folder " +
                "(pip's nvidia-cublas puts it in site-packages/nvidia/cublas/lib), or add that folder to LD_LIBRARY_PATH.");
        }
    }

    /// <summary>Status code to a message (cublasStatus_t).</summary>
    public static void Check(int status, string call)
    {
        if (status == 0)
            return;
        string name = status switch
        {
            1 => "NOT_INITIALIZED (no CUDA context or driver problem)",
            3 => "ALLOC_FAILED (out of GPU memory)",
            7 => "INVALID_VALUE (bad size or leading dimension)",
            8 => "ARCH_MISMATCH",
            11 => "MAPPING_ERROR",
            13 => "EXECUTION_FAILED",
            14 => "INTERNAL_ERROR",
            15 => "NOT_SUPPORTED",
            _ => "status " + status,
        };
        throw new InvalidOperationException($"{call} failed: CUBLAS_STATUS_{name}.");
    }

    // libcublas.so.N needs libcublasLt.so.N; the pip wheel keeps both in one folder that
    // the loader does not search, so load the sibling first by its full path.
    private static void PreloadLt(string candidate)
    {
        if (!candidate.Contains('/'))
            return;
        var folder = System.IO.Path.GetDirectoryName(candidate)!;
        var lt = System.IO.Path.GetFileName(candidate).Replace("libcublas.", "libcublasLt.", StringComparison.Ordinal);
        var ltPath = System.IO.Path.Combine(folder, lt);
        if (File.Exists(ltPath))
            NativeLibrary.TryLoad(ltPath, out _);
    }

    private static IntPtr Export(IntPtr handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out var address)
            ? address
            : throw new EntryPointNotFoundException($"The loaded cuBLAS library lacks {name}.");
}
