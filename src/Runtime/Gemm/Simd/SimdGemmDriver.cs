using System.Runtime.CompilerServices;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// The blocked GEMM loop nest (Goto/BLIS blocking) for one thread over one rectangle of C:
/// for each NC panel of columns and KC slice of depth, pack B once; for each MC block of
/// rows, pack A; then sweep MR x NR tiles with the micro-kernel, rows outer: one packed A
/// micro-panel stays in L1 while the packed B panel streams from L2 (measured faster than
/// columns outer on the wide Base shapes, whose C and B blocks otherwise push A out of L2). The first KC slice applies
/// Beta, later slices accumulate (beta 1). Tiles that cross the matrix edge are computed
/// into a scratch tile and merged.
/// </summary>
internal static unsafe class SimdGemmDriver<TKernel> where TKernel : struct, IMicroKernel
{
    /// <summary>Floats of packed A one thread needs.</summary>
    public static int PackASize => TKernel.MC * TKernel.KC;

    /// <summary>Floats of packed B one thread needs.</summary>
    public static int PackBSize => TKernel.KC * TKernel.NC;

    /// <summary>C[m0..m1, n0..n1] of the product, using the thread's packing buffers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TA, TOpA, TB, TOpB>(in GemmDesc d, TA* a, TB* b, float* c, int m0, int m1, int n0, int n1,
        float* packA, float* packB)
        where TA : unmanaged where TOpA : struct, IGemmOperand<TA> where TB : unmanaged where TOpB : struct, IGemmOperand<TB>
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        float* scratch = stackalloc float[mr * nr];
        for (int jc = n0; jc < n1; jc += TKernel.NC)
        {
            int nc = Math.Min(TKernel.NC, n1 - jc);
            for (int pc = 0; pc < d.K; pc += TKernel.KC)
            {
                int kc = Math.Min(TKernel.KC, d.K - pc);
                float beta = pc == 0 ? d.Beta : 1f;
                Packing.PackB<TB, TOpB>(b, d.Ldb, d.TransB, pc, kc, jc, nc, nr, packB);
                for (int ic = m0; ic < m1; ic += TKernel.MC)
                {
                    int mc = Math.Min(TKernel.MC, m1 - ic);
                    Packing.PackA<TA, TOpA>(a, d.Lda, d.TransA, ic, mc, pc, kc, mr, d.Alpha, packA);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int rows = Math.Min(mr, mc - ir);
                        float* pa = packA + (ir / mr) * kc * mr;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* pb = packB + (jr / nr) * kc * nr;
                            float* tile = c + (long)(ic + ir) * d.Ldc + jc + jr;
                            if (rows == mr && cols == nr)
                            {
                                TKernel.Run(kc, pa, pb, tile, d.Ldc, beta);
                            }
                            else
                            {
                                TKernel.Run(kc, pa, pb, scratch, nr, 0f);
                                Merge(scratch, nr, tile, d.Ldc, rows, cols, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void Merge(float* src, int lds, float* dst, long ldd, int rows, int cols, float beta)
    {
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                float* p = dst + i * ldd + j;
                *p = beta == 0f ? src[i * lds + j] : src[i * lds + j] + beta * *p;
            }
        }
    }
}
