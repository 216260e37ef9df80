using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// AVX2 + FMA register tile of 6 rows x 16 columns: 12 ymm accumulators, 2 ymm of packed B and
/// one broadcast of packed A (of 16 ymm registers). Used where AVX-512 is missing.
/// </summary>
internal readonly unsafe struct Avx2MicroKernel : IMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static int KC => 256;
    public static int MC => 192;
    public static int NC => 1024;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* pa, float* pb, float* c, long ldc, float beta)
    {
        Vector256<float> c0a, c0b;
        Vector256<float> c1a, c1b;
        Vector256<float> c2a, c2b;
        Vector256<float> c3a, c3b;
        Vector256<float> c4a, c4b;
        Vector256<float> c5a, c5b;
        c0a = c0b = Vector256<float>.Zero;
        c1a = c1b = Vector256<float>.Zero;
        c2a = c2b = Vector256<float>.Zero;
        c3a = c3b = Vector256<float>.Zero;
        c4a = c4b = Vector256<float>.Zero;
        c5a = c5b = Vector256<float>.Zero;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector256.Load(pb + 0);
            var b1 = Vector256.Load(pb + 8);
            var a0 = Vector256.Create(pa[0]);
            c0a = Fma.MultiplyAdd(a0, b0, c0a);
            c0b = Fma.MultiplyAdd(a0, b1, c0b);
            var a1 = Vector256.Create(pa[1]);
            c1a = Fma.MultiplyAdd(a1, b0, c1a);
            c1b = Fma.MultiplyAdd(a1, b1, c1b);
            var a2 = Vector256.Create(pa[2]);
            c2a = Fma.MultiplyAdd(a2, b0, c2a);
            c2b = Fma.MultiplyAdd(a2, b1, c2b);
            var a3 = Vector256.Create(pa[3]);
            c3a = Fma.MultiplyAdd(a3, b0, c3a);
            c3b = Fma.MultiplyAdd(a3, b1, c3b);
            var a4 = Vector256.Create(pa[4]);
            c4a = Fma.MultiplyAdd(a4, b0, c4a);
            c4b = Fma.MultiplyAdd(a4, b1, c4b);
            var a5 = Vector256.Create(pa[5]);
            c5a = Fma.MultiplyAdd(a5, b0, c5a);
            c5b = Fma.MultiplyAdd(a5, b1, c5b);
            pa += 6;
            pb += 16;
        }

        Store(c + 0 * ldc + 0, c0a, beta);
        Store(c + 0 * ldc + 8, c0b, beta);
        Store(c + 1 * ldc + 0, c1a, beta);
        Store(c + 1 * ldc + 8, c1b, beta);
        Store(c + 2 * ldc + 0, c2a, beta);
        Store(c + 2 * ldc + 8, c2b, beta);
        Store(c + 3 * ldc + 0, c3a, beta);
        Store(c + 3 * ldc + 8, c3b, beta);
        Store(c + 4 * ldc + 0, c4a, beta);
        Store(c + 4 * ldc + 8, c4b, beta);
        Store(c + 5 * ldc + 0, c5a, beta);
        Store(c + 5 * ldc + 8, c5b, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* p, Vector256<float> acc, float beta)
    {
        if (beta == 0f)
            Vector256.Store(acc, p);
        else if (beta == 1f)
            Vector256.Store(acc + Vector256.Load(p), p);
        else
            Vector256.Store(Fma.MultiplyAdd(Vector256.Create(beta), Vector256.Load(p), acc), p);
    }
}
