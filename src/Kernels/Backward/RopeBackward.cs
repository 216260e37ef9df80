using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of <see cref="Rope"/>: RoPE is a rotation per (i, i + hd/2) pair, so its transpose is the
/// rotation by the negative angle: for each pair (a, b), a' = a*cos + b*sin, b' = b*cos - a*sin.
/// </summary>
public static class RopeBackward
{
    /// <summary>In place on dy [B, T, Heads, hd] (becomes dx); one logical thread per pair, grid-stride.</summary>
    public static void Apply(ArrayView<float> x, RopeShape s)
    {
        int half = s.HeadDim / 2;
        long pairs = (long)s.Batch * s.Time * s.Heads * half;
        long stride = (long)Grid.DimX * Group.DimX;
        float logTheta = XMath.Log(s.Theta);
        for (long p = Grid.GlobalIndex.X; p < pairs; p += stride)
        {
            int i = (int)(p % half);
            long vector = p / half;
            int t = (int)(vector / s.Heads % s.Time);
            float invFreq = XMath.Exp(-(2.0f * i / s.HeadDim) * logTheta);
            float angle = (s.PositionOffset + t) * invFreq;
            float cos = XMath.Cos(angle);
            float sin = XMath.Sin(angle);
            long lo = vector * s.HeadDim + i;
            float a = x[lo];
            float b = x[lo + half];
            x[lo] = a * cos + b * sin;
            x[lo + half] = b * cos - a * sin;
        }
    }

    /// <summary>Reference twin: the inverse rotation (angles in double).</summary>
    public static void Reference(float[] x, RopeShape s) => Rope.ReferenceRotation(x, s, direction: -1);
}
