using System.Runtime.CompilerServices;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// Copies blocks of op(A) and op(B) into the layout the micro-kernels stream through:
/// A as panels of MR rows ([panel][kc][MR]), B as panels of NR columns ([panel][kc][NR]),
/// zero-padded past the matrix edge so every tile runs the full kernel.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs alpha·op(A)[i0..i0+mc, p0..p0+kc] into dst ([ceil(mc/mr)][kc][mr]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                int k = rows == mr ? TransposedPanel(rowBase, lda, kc, mr, alpha, dst) : 0;
                dst += k * mr;
                for (; k < kc; k++)
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, long ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int c0 = 0; c0 < nc; c0 += nr)
        {
            int cols = Math.Min(nr, nc - c0);
            if (transB)
            {
                float* colBase = b + (j0 + c0) * ldb + p0;
                int k = cols == nr ? TransposedPanel(colBase, ldb, kc, nr, 1f, dst) : 0;
                dst += k * nr;
                for (; k < kc; k++)
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

    /// <summary>
    /// Fills dst[k*width + r] = scale * src[r*lds + k] for r &lt; width and k below a multiple
    /// of 8, with 8x8 transposes (a width that is not a multiple of 8, e.g. 12, is covered by
    /// overlapping blocks that write the same values twice). Returns how many k it packed;
    /// the caller packs the rest.
    /// </summary>
    private static int TransposedPanel(float* src, long lds, int kc, int width, float scale, float* dst)
    {
        if (!Transpose8x8.IsSupported || width < 8)
            return 0;
        int kEnd = kc & ~7;
        for (int k = 0; k < kEnd; k += 8)
        {
            for (int r = 0; r < width; r += 8)
            {
                int r8 = Math.Min(r, width - 8);
                Transpose8x8.Run(src + r8 * lds + k, lds, dst + (long)k * width + r8, width, scale);
            }
        }
        return kEnd;
    }
}
