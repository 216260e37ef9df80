using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Tests.Gemm;

/// <summary>
/// One GEMM test: random operands stored with padding (leading dimensions larger than the
/// rows) at an offset inside bigger buffers, a provider's result against
/// <see cref="GemmReference"/>. Declared tolerance per element of C:
/// 1e-6 + 1e-5 · (|alpha|·Σ_k |op(A)[i,k]·op(B)[k,j]| + |beta·C0[i,j]|), i.e. float
/// rounding relative to the magnitudes that were summed, not to the (possibly cancelling) result.
/// </summary>
public sealed record GemmCase(int M, int N, int K, bool TransA, bool TransB, int Pad, float Alpha, float Beta, int Batch = 1)
{
    private const double AbsTol = 1e-6, RelTol = 1e-5;
    private const int Offset = 5;

    public override string ToString() =>
        $"{M}x{N}x{K} {(TransA ? "T" : "N")}{(TransB ? "T" : "N")} pad{Pad} a{Alpha} b{Beta}" + (Batch > 1 ? $" batch{Batch}" : "");

    public GemmDesc Desc
    {
        get
        {
            var tight = GemmDesc.Create(M, N, K, TransA, TransB, Alpha, Beta);
            return tight with { Lda = tight.Lda + Pad, Ldb = tight.Ldb + Pad, Ldc = tight.Ldc + Pad };
        }
    }

    /// <summary>Runs the case on the provider and returns the worst error / tolerance ratio (pass when &lt;= 1).</summary>
    public double Run(IGemmProvider provider, int seed)
    {
        var d = Desc;
        var rng = new Random(seed);
        long strideA = d.AExtent + 3, strideB = d.BExtent + 1, strideC = d.CExtent + 2;
        var a = Random(rng, Offset + strideA * Batch);
        var b = Random(rng, Offset + strideB * Batch);
        var c0 = Random(rng, Offset + strideC * Batch);
        if (Beta == 0f)
            Array.Fill(c0, float.NaN); // Beta 0 must not read C.

        var accel = provider.Accelerator;
        using var aBuf = accel.Allocate1D(a);
        using var bBuf = accel.Allocate1D(b);
        using var cBuf = accel.Allocate1D(c0);
        var aView = aBuf.View.SubView(Offset, aBuf.Length - Offset);
        var bView = bBuf.View.SubView(Offset, bBuf.Length - Offset);
        var cView = cBuf.View.SubView(Offset, cBuf.Length - Offset);
        if (Batch == 1)
            provider.Sgemm(d, aView, bView, cView);
        else
            provider.SgemmStridedBatched(d, aView, strideA, bView, strideB, cView, strideC, Batch);
        accel.Synchronize();
        var got = cBuf.GetAsArray1D();

        var expected = (float[])c0.Clone();
        GemmReference.SgemmStridedBatched(d, a.AsSpan(Offset), strideA, b.AsSpan(Offset), strideB,
            expected.AsSpan(Offset), strideC, Batch);

        double worst = 0;
        for (long i = 0; i < got.Length; i++)
        {
            if (!IsInsideC(i - Offset, d, strideC, out int p, out int row, out int col))
            {
                Assert.True(BitwiseEqual(got[i], c0[i]), $"{this}: element {i} outside C was written ({c0[i]} -> {got[i]}).");
                continue;
            }
            double scale = Math.Abs(Alpha) * GemmReference.AbsProductSum(d,
                a.AsSpan(Offset + (int)(p * strideA)), b.AsSpan(Offset + (int)(p * strideB)), row, col);
            if (Beta != 0f)
                scale += Math.Abs(Beta * c0[i]);
            double tol = AbsTol + RelTol * scale;
            double err = Math.Abs((double)got[i] - expected[i]);
            Assert.False(double.IsNaN(got[i]), $"{this}: C[{p}][{row},{col}] is NaN.");
            worst = Math.Max(worst, err / tol);
        }
        return worst;
    }

    private bool IsInsideC(long index, GemmDesc d, long strideC, out int product, out int row, out int col)
    {
        product = row = col = 0;
        if (index < 0)
            return false;
        product = (int)(index / strideC);
        long within = index - product * strideC;
        row = (int)(within / d.Ldc);
        col = (int)(within % d.Ldc);
        return product < Batch && row < d.M && col < d.N;
    }

    private static bool BitwiseEqual(float x, float y) => BitConverter.SingleToInt32Bits(x) == BitConverter.SingleToInt32Bits(y);

    private static float[] Random(Random rng, long length)
    {
        var data = new float[length];
        for (long i = 0; i < length; i++)
            data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }
}
