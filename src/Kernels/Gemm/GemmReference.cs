namespace OpenMoE.Kernels.Gemm;

/// <summary>
/// The plain-C# twin of every GEMM provider: a triple loop with double accumulation,
/// the ground truth the tiled ILGPU kernel, the SIMD GEMM and cuBLAS are compared with.
/// </summary>
public static class GemmReference
{
    /// <summary>C = Alpha·op(A)·op(B) + Beta·C for one product (see <see cref="GemmDesc"/>).</summary>
    public static void Sgemm(in GemmDesc d, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c)
    {
        d.Validate(a.Length, b.Length, c.Length);
        for (int i = 0; i < d.M; i++)
        {
            for (int j = 0; j < d.N; j++)
            {
                double sum = 0;
                for (int k = 0; k < d.K; k++)
                    sum += (double)A(d, a, i, k) * B(d, b, k, j);
                int ci = i * d.Ldc + j;
                double prior = d.Beta == 0f ? 0 : (double)d.Beta * c[ci];
                c[ci] = (float)(d.Alpha * sum + prior);
            }
        }
    }

    /// <summary>
    /// <paramref name="batch"/> independent products; product b reads A at b·strideA, B at
    /// b·strideB and writes C at b·strideC (element offsets), as cublasSgemmStridedBatched.
    /// </summary>
    public static void SgemmStridedBatched(in GemmDesc d, ReadOnlySpan<float> a, long strideA,
        ReadOnlySpan<float> b, long strideB, Span<float> c, long strideC, int batch)
    {
        for (int p = 0; p < batch; p++)
        {
            Sgemm(d, a[(int)(p * strideA)..], b[(int)(p * strideB)..], c[(int)(p * strideC)..]);
        }
    }

    /// <summary>Sum over k of |op(A)[i,k]|·|op(B)[k,j]|: the scale a float rounding error of C[i,j] grows with.</summary>
    public static double AbsProductSum(in GemmDesc d, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int i, int j)
    {
        double sum = 0;
        for (int k = 0; k < d.K; k++)
            sum += Math.Abs((double)A(d, a, i, k) * B(d, b, k, j));
        return sum;
    }

    private static float A(in GemmDesc d, ReadOnlySpan<float> a, int i, int k) =>
        d.TransA ? a[k * d.Lda + i] : a[i * d.Lda + k];

    private static float B(in GemmDesc d, ReadOnlySpan<float> b, int k, int j) =>
        d.TransB ? b[j * d.Ldb + k] : b[k * d.Ldb + j];
}
