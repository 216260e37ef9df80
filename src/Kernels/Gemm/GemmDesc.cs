namespace OpenMoE.Kernels.Gemm;

/// <summary>
/// One row-major single-precision matrix product, BLAS style:
/// <c>C[M,N] = Alpha * op(A)[M,K] @ op(B)[K,N] + Beta * C[M,N]</c>.
/// A is stored as [M, Lda] (or [K, Lda] when <see cref="TransA"/>), B as [K, Ldb]
/// (or [N, Ldb] when <see cref="TransB"/>), C as [M, Ldc]; every leading dimension is the
/// row stride in elements and may exceed the row width. When Beta is 0, C is not read
/// (NaN in C does not leak into the result), as in BLAS.
/// </summary>
public readonly record struct GemmDesc(
    int M, int N, int K,
    bool TransA, bool TransB,
    int Lda, int Ldb, int Ldc,
    float Alpha = 1f, float Beta = 0f)
{
    /// <summary>A product with tight leading dimensions (rows stored back to back).</summary>
    public static GemmDesc Create(int m, int n, int k, bool transA = false, bool transB = false,
        float alpha = 1f, float beta = 0f) =>
        new(m, n, k, transA, transB, transA ? m : k, transB ? k : n, n, alpha, beta);

    /// <summary>Stored rows and row width of A: [M, K], or [K, M] when transposed.</summary>
    public (int Rows, int Cols) AStorage => TransA ? (K, M) : (M, K);

    /// <summary>Stored rows and row width of B: [K, N], or [N, K] when transposed.</summary>
    public (int Rows, int Cols) BStorage => TransB ? (N, K) : (K, N);

    /// <summary>Elements of A the product touches, from its first element.</summary>
    public long AExtent => Extent(AStorage, Lda);

    /// <summary>Elements of B the product touches, from its first element.</summary>
    public long BExtent => Extent(BStorage, Ldb);

    /// <summary>Elements of C the product touches, from its first element.</summary>
    public long CExtent => Extent((M, N), Ldc);

    /// <summary>Floating-point operations of the product (2·M·N·K).</summary>
    public double Flops => 2.0 * M * N * K;

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first thing that is wrong:
    /// negative sizes, a leading dimension smaller than its row width, or an operand
    /// shorter than the product needs.
    /// </summary>
    public void Validate(long aLength, long bLength, long cLength)
    {
        if (M < 0 || N < 0 || K < 0)
            throw new ArgumentException($"GEMM sizes must be >= 0, got M={M}, N={N}, K={K}.");
        CheckLd("A", Lda, AStorage.Cols);
        CheckLd("B", Ldb, BStorage.Cols);
        CheckLd("C", Ldc, N);
        CheckLength("A", aLength, AExtent);
        CheckLength("B", bLength, BExtent);
        CheckLength("C", cLength, CExtent);
    }

    private static long Extent((int Rows, int Cols) storage, int ld) =>
        storage.Rows == 0 || storage.Cols == 0 ? 0 : (long)(storage.Rows - 1) * ld + storage.Cols;

    private static void CheckLd(string name, int ld, int width)
    {
        if (ld < Math.Max(1, width))
            throw new ArgumentException(
                $"GEMM leading dimension ld{name}={ld} is smaller than the stored row width {width} of {name}.");
    }

    private static void CheckLength(string name, long length, long needed)
    {
        if (length < needed)
            throw new ArgumentException(
                $"GEMM operand {name} has {length} elements but the product needs {needed}.");
    }
}
