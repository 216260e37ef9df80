using System.Numerics;

namespace OpenMoE.Training;

/// <summary>
/// Element-wise host loops of the optimizers in SIMD. Each lane does exactly the operations of the
/// scalar loop (IEEE multiply and subtract, double-to-float rounding to nearest), so results are
/// bit-identical to it; reductions stay scalar, because reordering a sum changes its rounding.
/// </summary>
internal static class HostVectors
{
    /// <summary>w[j] -= (float)(scale * x[j]) for every j: the product in double, rounded to float, then subtracted in float.</summary>
    public static void SubtractScaled(Span<float> w, ReadOnlySpan<float> x, double scale)
    {
        if (x.Length != w.Length)
            throw new ArgumentException($"w has {w.Length} elements, x {x.Length}.");
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var factor = new Vector<double>(scale);
            for (; j <= w.Length - Vector<float>.Count; j += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(x[j..]), out var low, out var high);
                var step = Vector.Narrow(low * factor, high * factor);
                (new Vector<float>(w[j..]) - step).CopyTo(w[j..]);
            }
        }
        for (; j < w.Length; j++)
            w[j] -= (float)(scale * x[j]);
    }
}
