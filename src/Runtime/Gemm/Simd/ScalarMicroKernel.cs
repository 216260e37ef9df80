using System.Runtime.CompilerServices;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>Plain scalar tile for CPUs without AVX2/FMA; same packing, no intrinsics.</summary>
internal readonly unsafe struct ScalarMicroKernel : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 8;
    public static int KC => 128;
    public static int MC => 64;
    public static int NC => 256;

    public static bool IsSupported => true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* pa, float* pb, float* c, long ldc, float beta)
    {
        float* acc = stackalloc float[4 * 8];
        new Span<float>(acc, 4 * 8).Clear();
        for (int k = 0; k < kc; k++)
        {
            for (int i = 0; i < 4; i++)
            {
                float a = pa[i];
                for (int j = 0; j < 8; j++)
                    acc[i * 8 + j] += a * pb[j];
            }
            pa += 4;
            pb += 8;
        }

        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                float* p = c + i * ldc + j;
                *p = beta == 0f ? acc[i * 8 + j] : acc[i * 8 + j] + beta * *p;
            }
        }
    }
}
