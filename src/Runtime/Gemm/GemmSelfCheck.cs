using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm;

/// <summary>Outcome of <see cref="GemmSelfCheck.Run"/>: the worst error over all shapes, as a multiple of the tolerance.</summary>
public sealed record GemmSelfCheckResult(string Provider, int Cases, double WorstErrorOverTolerance, string WorstCase)
{
    /// <summary>Every element within tolerance.</summary>
    public bool Passed => WorstErrorOverTolerance <= 1;
}

/// <summary>
/// A quick on-device check of a provider against <see cref="GemmReference"/> (for
/// `openmoe selftest` on a new machine): odd sizes, all transpose combinations, padded
/// leading dimensions, an offset view, alpha/beta and a strided batch. Tolerance per element:
/// 1e-6 + 1e-5 · (|alpha|·Σ_k|a_ik·b_kj| + |beta·c_ij|).
/// </summary>
public static class GemmSelfCheck
{
    private const int Offset = 3;

    private static readonly (int M, int N, int K)[] Shapes = [(1, 1, 1), (7, 13, 5), (129, 130, 65), (64, 257, 300)];

    public static GemmSelfCheckResult Run(IGemmProvider provider, int seed = 1)
    {
        var rng = new Random(seed);
        double worst = 0;
        string worstCase = "";
        int cases = 0;
        foreach (var (m, n, k) in Shapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    int pad = cases % 2 * 3;
                    var tight = GemmDesc.Create(m, n, k, transA, transB, cases % 3 == 0 ? 1f : 0.5f, cases % 2 == 0 ? 0f : -1f);
                    var d = tight with { Lda = tight.Lda + pad, Ldb = tight.Ldb + pad, Ldc = tight.Ldc + pad };
                    int batch = cases % 4 == 3 ? 3 : 1;
                    double err = RunCase(provider, d, batch, rng);
                    cases++;
                    if (err >= worst)
                    {
                        worst = err;
                        worstCase = $"{m}x{n}x{k} {(transA ? 'T' : 'N')}{(transB ? 'T' : 'N')} batch {batch}";
                    }
                }
        return new GemmSelfCheckResult(provider.Name, cases, worst, worstCase);
    }

    private static double RunCase(IGemmProvider provider, GemmDesc d, int batch, Random rng)
    {
        long sa = d.AExtent, sb = d.BExtent, sc = d.CExtent;
        var a = RandomData(rng, Offset + sa * batch);
        var b = RandomData(rng, Offset + sb * batch);
        var c = RandomData(rng, Offset + sc * batch);
        var accel = provider.Accelerator;
        using var aBuf = accel.Allocate1D(a);
        using var bBuf = accel.Allocate1D(b);
        using var cBuf = accel.Allocate1D(c);
        provider.SgemmStridedBatched(d, aBuf.View.SubView(Offset, aBuf.Length - Offset), sa,
            bBuf.View.SubView(Offset, bBuf.Length - Offset), sb, cBuf.View.SubView(Offset, cBuf.Length - Offset), sc, batch);
        accel.Synchronize();
        var got = cBuf.GetAsArray1D();

        var expected = (float[])c.Clone();
        GemmReference.SgemmStridedBatched(d, a.AsSpan(Offset), sa, b.AsSpan(Offset), sb, expected.AsSpan(Offset), sc, batch);
        double worst = 0;
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < d.M; i++)
                for (int j = 0; j < d.N; j++)
                {
                    long idx = Offset + p * sc + (long)i * d.Ldc + j;
                    double scale = Math.Abs(d.Alpha) * GemmReference.AbsProductSum(d, a.AsSpan(Offset + (int)(p * sa)),
                        b.AsSpan(Offset + (int)(p * sb)), i, j) + Math.Abs(d.Beta * c[idx]);
                    double err = Math.Abs((double)got[idx] - expected[idx]);
                    worst = Math.Max(worst, double.IsFinite(err) ? err / (1e-6 + 1e-5 * scale) : double.PositiveInfinity);
                }
        return worst;
    }

    private static float[] RandomData(Random rng, long length)
    {
        var data = new float[length];
        for (long i = 0; i < length; i++)
            data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }
}
