using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>Sizes of one RoPE application. x is [B, T, Heads, HeadDim]; token t sits at position PositionOffset + t.</summary>
public struct RopeShape
{
    /// <summary>Batch B.</summary>
    public int Batch;
    /// <summary>Time steps T in this call.</summary>
    public int Time;
    /// <summary>Heads in x (H for queries, kv heads for keys).</summary>
    public int Heads;
    /// <summary>Head dimension hd (even).</summary>
    public int HeadDim;
    /// <summary>Position of the first time step (the KV-cache length when decoding).</summary>
    public int PositionOffset;
    /// <summary>RoPE base theta (10000 for OpenMoE).</summary>
    public float Theta;
}

/// <summary>
/// Rotary position embedding, rotate-half layout over the whole head dim:
/// inv_freq[i] = theta^(-2i/hd), angles [a, a], x' = x*cos + rotate_half(x)*sin, rotate_half([a,b]) = [-b, a].
/// </summary>
public static class Rope
{
    /// <summary>In place on x [B, T, Heads, hd]; one logical thread per (b, t, head, i &lt; hd/2) pair, grid-stride.</summary>
    public static void Apply(ArrayView<float> x, RopeShape s) => Rotate(x, s, 1f);

    /// <summary>
    /// RoPE on the queries q [B, T, s.Heads, hd] and the keys k [B, T, keyHeads, hd] in one launch (attention
    /// rotates both before every product): one grid-stride loop over the pairs of q, then those of k, each
    /// rotated as <see cref="Apply"/> rotates it.
    /// </summary>
    public static void ApplyQueryKey(ArrayView<float> q, ArrayView<float> k, RopeShape s, int keyHeads)
    {
        var keys = s;
        keys.Heads = keyHeads;
        int half = s.HeadDim / 2;
        long queryPairs = Pairs(s), pairs = queryPairs + Pairs(keys);
        long stride = (long)Grid.DimX * Group.DimX;
        float logTheta = XMath.Log(s.Theta);
        for (long p = Grid.GlobalIndex.X; p < pairs; p += stride)
        {
            if (p < queryPairs)
                RotatePair(q, s, p, half, logTheta, 1f);
            else
                RotatePair(k, keys, p - queryPairs, half, logTheta, 1f);
        }
    }

    /// <summary>
    /// The rotate-half rotation by <paramref name="direction"/> times each position's angles: +1 is
    /// RoPE, -1 its inverse (RoPE's backward, since the rotation is orthogonal). Internal, so kernel
    /// discovery does not take it for an entry point; kernels call it.
    /// </summary>
    internal static void Rotate(ArrayView<float> x, RopeShape s, float direction)
    {
        int half = s.HeadDim / 2;
        long pairs = Pairs(s);
        // Hoisted: on the CPU accelerator these are thread-static reads.
        long stride = (long)Grid.DimX * Group.DimX;
        long first = Grid.GlobalIndex.X;
        float logTheta = XMath.Log(s.Theta);
        for (long p = first; p < pairs; p += stride)
            RotatePair(x, s, p, half, logTheta, direction);
    }

    private static long Pairs(RopeShape s) => (long)s.Batch * s.Time * s.Heads * (s.HeadDim / 2);

    /// <summary>Rotates pair <paramref name="p"/> of x: element i &lt; hd/2 of one head vector with element i + hd/2.</summary>
    private static void RotatePair(ArrayView<float> x, RopeShape s, long p, int half, float logTheta, float direction)
    {
        int i = (int)(p % half);
        long vector = p / half;
        int t = (int)(vector / s.Heads % s.Time);
        float invFreq = XMath.Exp(-(2.0f * i / s.HeadDim) * logTheta);
        float angle = (s.PositionOffset + t) * invFreq;
        float cos = XMath.Cos(angle);
        float sin = direction * XMath.Sin(angle);
        long lo = vector * s.HeadDim + i;
        float a = x[lo];
        float b = x[lo + half];
        x[lo] = a * cos - b * sin;
        x[lo + half] = b * cos + a * sin;
    }

    /// <summary>Apply with hd = TDims.HeadDim folded in (the shape's HeadDim is ignored).</summary>
    public static void Apply<TDims>(ArrayView<float> x, RopeShape s)
        where TDims : struct, IModelDims
    {
        s.HeadDim = TDims.HeadDim;
        Apply(x, s);
    }

    /// <summary>ApplyQueryKey with H, KvH and hd from <typeparamref name="TDims"/> (the shape's Heads and HeadDim are ignored).</summary>
    public static void ApplyQueryKey<TDims>(ArrayView<float> q, ArrayView<float> k, RopeShape s)
        where TDims : struct, IModelDims
    {
        s.Heads = TDims.Heads;
        s.HeadDim = TDims.HeadDim;
        ApplyQueryKey(q, k, s, TDims.KvHeads);
    }

    /// <summary>Reference twin (angles in double).</summary>
    public static void Reference(float[] x, RopeShape s) => ReferenceRotation(x, s, direction: 1);

    /// <summary>
    /// Rotate-half rotation by <paramref name="direction"/> times each position's angles, in double:
    /// +1 is RoPE, -1 its inverse (the backward pass, since the rotation is orthogonal).
    /// </summary>
    public static void ReferenceRotation(float[] x, RopeShape s, int direction)
    {
        int half = s.HeadDim / 2;
        for (int b = 0; b < s.Batch; b++)
            for (int t = 0; t < s.Time; t++)
                for (int h = 0; h < s.Heads; h++)
                {
                    long baseIndex = (((long)b * s.Time + t) * s.Heads + h) * s.HeadDim;
                    for (int i = 0; i < half; i++)
                    {
                        double angle = direction * (s.PositionOffset + t) * Math.Pow(s.Theta, -2.0 * i / s.HeadDim);
                        double a = x[baseIndex + i], c = x[baseIndex + i + half];
                        x[baseIndex + i] = (float)(a * Math.Cos(angle) - c * Math.Sin(angle));
                        x[baseIndex + i + half] = (float)(c * Math.Cos(angle) + a * Math.Sin(angle));
                    }
                }
    }
}
