using OpenMoE.Kernels;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm.Simd;

namespace OpenMoE.Tests.Gemm;

/// <summary>
/// bf16 operands in the SIMD GEMM: widened exactly while packing and accumulated in fp32, so every
/// product equals the fp32 SIMD GEMM of the widened values bit for bit (the reference twin: the fp32
/// path on the same values), on every shape, transpose and scaling the fp32 GEMM is checked on.
/// </summary>
public sealed unsafe class Bf16GemmTests
{
    [Theory]
    [MemberData(nameof(SimdGemmProviderTests.Isas), MemberType = typeof(SimdGemmProviderTests))]
    public void Bf16_operands_give_the_fp32_product_of_their_widened_values_bit_for_bit(SimdIsa isa)
    {
        using var gemm = new SimdGemm(isa, threads: 2);
        var random = new Random(11);
        foreach (var c in GemmCases.All(maxMacs: 2_000_000))
        {
            var d = c.Desc;
            var a = Bf16Values(random, d.AExtent);
            var b = Bf16Values(random, d.BExtent);
            var c0 = Enumerable.Range(0, (int)d.CExtent).Select(_ => (float)random.NextDouble()).ToArray();
            var (wideA, wideB) = (Array.ConvertAll(a, x => x.ToSingle()), Array.ConvertAll(b, x => x.ToSingle()));

            var expected = (float[])c0.Clone();
            var mixed = (float[])c0.Clone();
            var both = (float[])c0.Clone();
            fixed (float* pa = wideA, pb = wideB, pc = expected) gemm.Sgemm(d, pa, pb, pc);
            fixed (float* pa = wideA, pc = mixed) fixed (BFloat16* pb = b) gemm.Gemm(d, pa, pb, pc);
            fixed (BFloat16* pa = a, pb = b) fixed (float* pc = both) gemm.Gemm(d, pa, pb, pc);
            Assert.True(expected.AsSpan().SequenceEqual(mixed), $"{isa} {c}: fp32 x bf16 differs from the fp32 product of the widened values");
            Assert.True(expected.AsSpan().SequenceEqual(both), $"{isa} {c}: bf16 x bf16 differs from the fp32 product of the widened values");
        }
    }

    private static BFloat16[] Bf16Values(Random random, long count) =>
        Enumerable.Range(0, (int)count).Select(_ => BFloat16.FromSingle((float)(random.NextDouble() * 4 - 2))).ToArray();

    [Fact]
    public void Rounding_to_bf16_is_to_nearest_with_ties_to_even()
    {
        // 1 + 2^-8 lies half way between 1 and 1 + 2^-7: the tie goes to the even mantissa (1).
        Assert.Equal(1f, BFloat16.FromSingle(1f + MathF.Pow(2, -8)).ToSingle());
        // 1 + 3 * 2^-8 lies half way between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        Assert.Equal(1f + MathF.Pow(2, -6), BFloat16.FromSingle(1f + 3 * MathF.Pow(2, -8)).ToSingle());
        // Just above half way rounds up.
        Assert.Equal(1f + MathF.Pow(2, -7), BFloat16.FromSingle(BitConverter.Int32BitsToSingle(0x3F808001)).ToSingle());
        Assert.True(float.IsNaN(BFloat16.FromSingle(float.NaN).ToSingle()));
        // A NaN whose payload lies only in the dropped bits must not become an infinity.
        Assert.True(float.IsNaN(BFloat16.FromSingle(BitConverter.Int32BitsToSingle(0x7F800001)).ToSingle()));
        Assert.Equal(float.PositiveInfinity, BFloat16.FromSingle(float.PositiveInfinity).ToSingle());
        Assert.Equal(float.NegativeInfinity, BFloat16.FromSingle(-float.MaxValue).ToSingle());
    }

    [Fact]
    public void Every_bf16_value_survives_the_round_trip_and_rounding_errs_by_at_most_half_a_unit()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            var value = new BFloat16((ushort)bits);
            float wide = value.ToSingle();
            if (!float.IsNaN(wide))
                Assert.Equal(value, BFloat16.FromSingle(wide));
        }
        var random = new Random(3);
        for (int i = 0; i < 100_000; i++)
        {
            float x = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-60, 60)));
            float rounded = BFloat16.FromSingle(x).ToSingle();
            Assert.True(Math.Abs(rounded - x) <= Math.Abs(x) * Math.Pow(2, -8), $"{x} rounded to {rounded}");
        }
    }
}
