using ILGPU;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of <see cref="Rope"/>: RoPE is a rotation per (i, i + hd/2) pair, so its transpose is the
/// rotation by the negative angle: for each pair (a, b), a' = a*cos + b*sin, b' = b*cos - a*sin.
/// </summary>
public static class RopeBackward
{
    /// <summary>In place on dy [B, T, Heads, hd] (becomes dx); one logical thread per pair, grid-stride.</summary>
    public static void Apply(ArrayView<float> x, RopeShape s) => Rope.Rotate(x, s, -1f);

    /// <summary>Reference twin: the inverse rotation (angles in double).</summary>
    public static void Reference(float[] x, RopeShape s) => Rope.ReferenceRotation(x, s, direction: -1);
}
