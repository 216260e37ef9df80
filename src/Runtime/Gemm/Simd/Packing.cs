using System.Runtime.CompilerServices;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>An operand element type of the SIMD GEMM: how one stored element widens to the fp32 the kernels compute in.</summary>
internal unsafe interface IGemmOperand<T> where T : unmanaged
{
    /// <summary>The fp32 value of the element at <paramref name="element"/>.</summary>
    static abstract float Load(T* element);
}

/// <summary>fp32 operands: read as they are.</summary>
internal readonly unsafe struct Fp32Operand : IGemmOperand<float>
{
    public static float Load(float* element) => *element;
}

/// <summary>bf16 operands: widened exactly to fp32 while packing (.NET has no AVX512-BF16 intrinsics; the micro-kernels stay fp32).</summary>
internal readonly unsafe struct Bf16Operand : IGemmOperand<OpenMoE.Kernels.BFloat16>
{
    public static float Load(OpenMoE.Kernels.BFloat16* element) => element->ToSingle();
}

/// <summary>
/// Copies blocks of op(A) and op(B) into the layout the micro-kernels stream through:
/// A as panels of MR rows ([panel][kc][MR]), B as panels of NR columns ([panel][kc][NR]),
/// zero-padded past the matrix edge so every tile runs the full kernel. Operands of any
/// <see cref="IGemmOperand{T}"/> type are widened to fp32 here, so the product of widened values
/// is the fp32 product of the same values, bit for bit. fp32 blocks take the 8x8-transpose and
/// block-copy fast paths; others are widened element by element.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs alpha·op(A)[i0..i0+mc, p0..p0+kc] into dst ([ceil(mc/mr)][kc][mr]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<T, TOp>(T* a, long lda, bool transA, int i0, int mc, int p0, int kc, int mr, float alpha, float* dst)
        where T : unmanaged where TOp : struct, IGemmOperand<T>
    {
        for (int r0 = 0; r0 < mc; r0 += mr)
        {
            int rows = Math.Min(mr, mc - r0);
            if (transA)
            {
                for (int k = 0; k < kc; k++)
                {
                    T* src = a + (p0 + k) * lda + i0 + r0;
                    int r = 0;
                    for (; r < rows; r++)
                        dst[r] = alpha * TOp.Load(src + r);
                    for (; r < mr; r++)
                        dst[r] = 0f;
                    dst += mr;
                }
            }
            else
            {
                T* rowBase = a + (i0 + r0) * lda + p0;
                int k = rows == mr && typeof(T) == typeof(float) ? TransposedPanel((float*)rowBase, lda, kc, mr, alpha, dst) : 0;
                dst += k * mr;
                for (; k < kc; k++)
                {
                    int r = 0;
                    for (; r < rows; r++)
                        dst[r] = alpha * TOp.Load(rowBase + r * lda + k);
                    for (; r < mr; r++)
                        dst[r] = 0f;
                    dst += mr;
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] into dst ([ceil(nc/nr)][kc][nr]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<T, TOp>(T* b, long ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst)
        where T : unmanaged where TOp : struct, IGemmOperand<T>
    {
        for (int c0 = 0; c0 < nc; c0 += nr)
        {
            int cols = Math.Min(nr, nc - c0);
            if (transB)
            {
                T* colBase = b + (j0 + c0) * ldb + p0;
                int k = cols == nr && typeof(T) == typeof(float) ? TransposedPanel((float*)colBase, ldb, kc, nr, 1f, dst) : 0;
                dst += k * nr;
                for (; k < kc; k++)
                {
                    int j = 0;
                    for (; j < cols; j++)
                        dst[j] = TOp.Load(colBase + j * ldb + k);
                    for (; j < nr; j++)
                        dst[j] = 0f;
                    dst += nr;
                }
            }
            else
            {
                for (int k = 0; k < kc; k++)
                {
                    T* src = b + (p0 + k) * ldb + j0 + c0;
                    if (cols == nr && typeof(T) == typeof(float))
                    {
                        Buffer.MemoryCopy(src, dst, nr * sizeof(float), nr * sizeof(float));
                    }
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++)
                            dst[j] = TOp.Load(src + j);
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
