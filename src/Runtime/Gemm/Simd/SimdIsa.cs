using System.Runtime.Intrinsics.X86;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>The instruction set the SIMD GEMM's micro-kernel uses.</summary>
public enum SimdIsa
{
    /// <summary>The widest this CPU supports.</summary>
    Best,

    /// <summary>AVX-512F, 12x32 register tile.</summary>
    Avx512,

    /// <summary>AVX2 + FMA, 6x16 register tile.</summary>
    Avx2,

    /// <summary>Portable scalar code, 4x8 tile.</summary>
    Scalar,
}

/// <summary>What the running CPU supports.</summary>
public static class SimdIsas
{
    /// <summary>The instruction sets this CPU can run, widest first (Scalar always).</summary>
    public static IReadOnlyList<SimdIsa> Supported { get; } = Detect();

    /// <summary>Best mapped to the widest supported set; others checked.</summary>
    public static SimdIsa Resolve(SimdIsa isa)
    {
        if (isa == SimdIsa.Best)
            return Supported[0];
        if (!Supported.Contains(isa))
            throw new PlatformNotSupportedException(
                $"This CPU does not support the {isa} GEMM kernel; supported: {string.Join(", ", Supported)}.");
        return isa;
    }

    private static SimdIsa[] Detect()
    {
        var list = new List<SimdIsa>();
        if (Avx512F.IsSupported)
            list.Add(SimdIsa.Avx512);
        if (Avx2.IsSupported && Fma.IsSupported)
            list.Add(SimdIsa.Avx2);
        list.Add(SimdIsa.Scalar);
        return list.ToArray();
    }
}
