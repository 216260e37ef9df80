using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// AVX-512 register tile of 12 rows x 32 columns: 24 zmm accumulators, 2 zmm of packed B
/// and one broadcast of packed A per k step (of 32 zmm registers), so the loop is bound by
/// the two FMA ports rather than by loads.
/// </summary>
internal readonly unsafe struct Avx512MicroKernel : IMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;
    public static int KC => 256;
    public static int MC => 384;
    public static int NC => 1024;

    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* pa, float* pb, float* c, long ldc, float beta)
    {
        Vector512<float> c0a, c0b;
        Vector512<float> c1a, c1b;
        Vector512<float> c2a, c2b;
        Vector512<float> c3a, c3b;
        Vector512<float> c4a, c4b;
        Vector512<float> c5a, c5b;
        Vector512<float> c6a, c6b;
        Vector512<float> c7a, c7b;
        Vector512<float> c8a, c8b;
        Vector512<float> c9a, c9b;
        Vector512<float> c10a, c10b;
        Vector512<float> c11a, c11b;
        c0a = c0b = Vector512<float>.Zero;
        c1a = c1b = Vector512<float>.Zero;
        c2a = c2b = Vector512<float>.Zero;
        c3a = c3b = Vector512<float>.Zero;
        c4a = c4b = Vector512<float>.Zero;
        c5a = c5b = Vector512<float>.Zero;
        c6a = c6b = Vector512<float>.Zero;
        c7a = c7b = Vector512<float>.Zero;
        c8a = c8b = Vector512<float>.Zero;
        c9a = c9b = Vector512<float>.Zero;
        c10a = c10b = Vector512<float>.Zero;
        c11a = c11b = Vector512<float>.Zero;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(pb + 0);
            var b1 = Vector512.Load(pb + 16);
            var a0 = Vector512.Create(pa[0]);
            c0a = Avx512F.FusedMultiplyAdd(a0, b0, c0a);
            c0b = Avx512F.FusedMultiplyAdd(a0, b1, c0b);
            var a1 = Vector512.Create(pa[1]);
            c1a = Avx512F.FusedMultiplyAdd(a1, b0, c1a);
            c1b = Avx512F.FusedMultiplyAdd(a1, b1, c1b);
            var a2 = Vector512.Create(pa[2]);
            c2a = Avx512F.FusedMultiplyAdd(a2, b0, c2a);
            c2b = Avx512F.FusedMultiplyAdd(a2, b1, c2b);
            var a3 = Vector512.Create(pa[3]);
            c3a = Avx512F.FusedMultiplyAdd(a3, b0, c3a);
            c3b = Avx512F.FusedMultiplyAdd(a3, b1, c3b);
            var a4 = Vector512.Create(pa[4]);
            c4a = Avx512F.FusedMultiplyAdd(a4, b0, c4a);
            c4b = Avx512F.FusedMultiplyAdd(a4, b1, c4b);
            var a5 = Vector512.Create(pa[5]);
            c5a = Avx512F.FusedMultiplyAdd(a5, b0, c5a);
            c5b = Avx512F.FusedMultiplyAdd(a5, b1, c5b);
            var a6 = Vector512.Create(pa[6]);
            c6a = Avx512F.FusedMultiplyAdd(a6, b0, c6a);
            c6b = Avx512F.FusedMultiplyAdd(a6, b1, c6b);
            var a7 = Vector512.Create(pa[7]);
            c7a = Avx512F.FusedMultiplyAdd(a7, b0, c7a);
            c7b = Avx512F.FusedMultiplyAdd(a7, b1, c7b);
            var a8 = Vector512.Create(pa[8]);
            c8a = Avx512F.FusedMultiplyAdd(a8, b0, c8a);
            c8b = Avx512F.FusedMultiplyAdd(a8, b1, c8b);
            var a9 = Vector512.Create(pa[9]);
            c9a = Avx512F.FusedMultiplyAdd(a9, b0, c9a);
            c9b = Avx512F.FusedMultiplyAdd(a9, b1, c9b);
            var a10 = Vector512.Create(pa[10]);
            c10a = Avx512F.FusedMultiplyAdd(a10, b0, c10a);
            c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
            var a11 = Vector512.Create(pa[11]);
            c11a = Avx512F.FusedMultiplyAdd(a11, b0, c11a);
            c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
            pa += 12;
            pb += 32;
        }

        Store(c + 0 * ldc + 0, c0a, beta);
        Store(c + 0 * ldc + 16, c0b, beta);
        Store(c + 1 * ldc + 0, c1a, beta);
        Store(c + 1 * ldc + 16, c1b, beta);
        Store(c + 2 * ldc + 0, c2a, beta);
        Store(c + 2 * ldc + 16, c2b, beta);
        Store(c + 3 * ldc + 0, c3a, beta);
        Store(c + 3 * ldc + 16, c3b, beta);
        Store(c + 4 * ldc + 0, c4a, beta);
        Store(c + 4 * ldc + 16, c4b, beta);
        Store(c + 5 * ldc + 0, c5a, beta);
        Store(c + 5 * ldc + 16, c5b, beta);
        Store(c + 6 * ldc + 0, c6a, beta);
        Store(c + 6 * ldc + 16, c6b, beta);
        Store(c + 7 * ldc + 0, c7a, beta);
        Store(c + 7 * ldc + 16, c7b, beta);
        Store(c + 8 * ldc + 0, c8a, beta);
        Store(c + 8 * ldc + 16, c8b, beta);
        Store(c + 9 * ldc + 0, c9a, beta);
        Store(c + 9 * ldc + 16, c9b, beta);
        Store(c + 10 * ldc + 0, c10a, beta);
        Store(c + 10 * ldc + 16, c10b, beta);
        Store(c + 11 * ldc + 0, c11a, beta);
        Store(c + 11 * ldc + 16, c11b, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* p, Vector512<float> acc, float beta)
    {
        if (beta == 0f)
            Vector512.Store(acc, p);
        else if (beta == 1f)
            Vector512.Store(acc + Vector512.Load(p), p);
        else
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Create(beta), Vector512.Load(p), acc), p);
    }
}
