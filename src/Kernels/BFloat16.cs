namespace OpenMoE.Kernels;

/// <summary>
/// bfloat16 storage: the top 16 bits of an IEEE fp32 (sign, the 8 exponent bits, 7 mantissa bits), as
/// OpenMoE trains its weights and activations. Arithmetic happens in fp32: values are widened exactly
/// when read and rounded to nearest, ties to even, when stored (NaN stays NaN).
/// </summary>
public readonly record struct BFloat16(ushort Bits)
{
    /// <summary>The exact fp32 value.</summary>
    public float ToSingle() => BitConverter.Int32BitsToSingle(Bits << 16);

    /// <summary>
    /// <paramref name="value"/> rounded to the nearest bfloat16, ties to even (what PyTorch and JAX do);
    /// a NaN becomes a quiet NaN of the same sign, infinities stay infinite.
    /// </summary>
    public static BFloat16 FromSingle(float value)
    {
        uint bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value))
            return new BFloat16((ushort)((bits >> 16) | 0x0040));
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped half to nearest, ties to even; a carry moves into the exponent as it should.
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return new BFloat16((ushort)(rounded >> 16));
    }
}
