namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// Copies blocks of op(A) and op(B) into the layout the micro-kernels stream through:
/// A as panels of MR rows ([panel][kc][MR]), B as panels of NR columns ([panel][kc][NR]),
/// zero-padded past the matrix edge so every tile runs the full kernel.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs alpha·op(A)[i0..i0+mc, p0..p0+kc] into dst ([ceil(mc/mr)][kc][mr]).</summary>
    public static void PackA(float* a, long lda, bool transA, int i0, int mc, int p0, int kc, int mr, float alpha, float* dst)
    {
        for (int r0 = 0; r0 < mc; r0 += mr)
        {
            int rows = Math.Min(mr, mc - r0);
            if (transA)
            {
                for (int k = 0; k < kc; k++)
                {
                    float* src = a + (p0 + k) * lda + i0 + r0;
                    int r = 0;
                    for (; r < rows; r++)
                        dst[r] = alpha * src[r];
                    for (; r < mr; r++)
                        dst[r] = 0f;
                    dst += mr;
                }
            }
            else
            {
                float* rowBase = a + (i0 + r0) * lda + p0;
                for (int k = 0; k < kc; k++)
                {
                    int r = 0;
                    for (; r < rows; r++)
                        dst[r] = alpha * rowBase[r * lda + k];
                    for (; r < mr; r++)
                        dst[r] = 0f;
                    dst += mr;
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] into dst ([ceil(nc/nr)][kc][nr]).</summary>
    public static void PackB(float* b, long ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int c0 = 0; c0 < nc; c0 += nr)
        {
            int cols = Math.Min(nr, nc - c0);
            if (transB)
            {
                float* colBase = b + (j0 + c0) * ldb + p0;
                for (int k = 0; k < kc; k++)
                {
                    int j = 0;
                    for (; j < cols; j++)
                        dst[j] = colBase[j * ldb + k];
                    for (; j < nr; j++)
                        dst[j] = 0f;
                    dst += nr;
                }
            }
            else
            {
                for (int k = 0; k < kc; k++)
                {
                    float* src = b + (p0 + k) * ldb + j0 + c0;
                    if (cols == nr)
                    {
                        Buffer.MemoryCopy(src, dst, nr * sizeof(float), nr * sizeof(float));
                    }
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++)
                            dst[j] = src[j];
                        for (; j < nr; j++)
                            dst[j] = 0f;
                    }
                    dst += nr;
                }
            }
        }
    }
}
