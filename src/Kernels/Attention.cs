using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>
/// Sizes of one causal attention call. Queries q [B, Tq, H, hd] sit at positions
/// [PastLength, PastLength + Tq); keys and values k, v [B, CacheLength, KvHeads, hd] hold
/// positions [0, PastLength + Tq) (the rest of the cache is unused). Output o [B, Tq, H, hd].
/// </summary>
public struct AttentionShape
{
    /// <summary>Batch B.</summary>
    public int Batch;
    /// <summary>Query time steps Tq in this call (T for a full pass, 1 per decoding step).</summary>
    public int QueryTime;
    /// <summary>Positions already in the cache before this call (0 for a full pass).</summary>
    public int PastLength;
    /// <summary>Position stride of k and v (the cache capacity; = Tq for a full pass without cache).</summary>
    public int CacheLength;
    /// <summary>Query heads H.</summary>
    public int Heads;
    /// <summary>Key/value heads (H must be a multiple of it; fewer than H is grouped-query attention).</summary>
    public int KvHeads;
    /// <summary>Head dimension hd.</summary>
    public int HeadDim;
    /// <summary>Logit scale: 1 for OpenMoE (folded into init), 1/sqrt(hd) otherwise.</summary>
    public float Scale;
}

/// <summary>
/// Causal multi-head attention with an online (flash-style) softmax over key tiles: each
/// (b, t, h) keeps a running max and sum and rescales its output row, so memory stays
/// O(B*T*H*hd) and never holds a T x T score matrix.
/// </summary>
public static class Attention
{
    /// <summary>Keys scored per tile (the per-thread local score buffer).</summary>
    public const int KeyTile = 32;

    /// <summary>One logical thread per (b, t, h) query row, grid-stride. Argument layout: see <see cref="AttentionShape"/>.</summary>
    public static void Causal(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        var weights = LocalMemory.Allocate<float>(KeyTile);
        long rows = (long)s.Batch * s.QueryTime * s.Heads;
        // Hoisted: on the CPU accelerator these are thread-static reads.
        long stride = (long)Grid.DimX * Group.DimX;
        long first = Grid.GlobalIndex.X;
        int groupSize = s.Heads / s.KvHeads;
        for (long row = first; row < rows; row += stride)
        {
            int h = (int)(row % s.Heads);
            int t = (int)(row / s.Heads % s.QueryTime);
            int b = (int)(row / ((long)s.Heads * s.QueryTime));
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var query = q.SubView(row * s.HeadDim, s.HeadDim);
            var output = o.SubView(row * s.HeadDim, s.HeadDim);
            long kvStride = (long)s.KvHeads * s.HeadDim;
            long kvFirst = (long)b * s.CacheLength * kvStride + (long)(h / groupSize) * s.HeadDim;
            int keys = s.PastLength + t + 1;
            float runningMax = float.NegativeInfinity;
            float runningSum = 0.0f;
            for (int d = 0; d < s.HeadDim; d++)
                output[d] = 0.0f;
            for (int k0 = 0; k0 < keys; k0 += KeyTile)
            {
                int count = XMath.Min(KeyTile, keys - k0);
                float tileMax = float.NegativeInfinity;
                for (int j = 0; j < count; j++)
                {
                    var key = k.SubView(kvFirst + (k0 + j) * kvStride, s.HeadDim);
                    float dot = 0.0f;
                    for (int d = 0; d < s.HeadDim; d++)
                        dot += query[d] * key[d];
                    float score = dot * s.Scale;
                    weights[j] = score;
                    tileMax = XMath.Max(tileMax, score);
                }
                float newMax = XMath.Max(runningMax, tileMax);
                float rescale = XMath.Exp(runningMax - newMax);
                runningSum *= rescale;
                for (int j = 0; j < count; j++)
                {
                    float p = XMath.Exp(weights[j] - newMax);
                    weights[j] = p;
                    runningSum += p;
                }
                // One read-modify-write of the output row per tile; the tile's values as one view.
                var values = v.SubView(kvFirst + k0 * kvStride, (count - 1) * kvStride + s.HeadDim);
                int valueStride = (int)kvStride;
                for (int d = 0; d < s.HeadDim; d++)
                {
                    float acc = output[d] * rescale;
                    for (int j = 0; j < count; j++)
                        acc += weights[j] * values[j * valueStride + d];
                    output[d] = acc;
                }
                runningMax = newMax;
            }
            float inverse = 1.0f / runningSum;
            for (int d = 0; d < s.HeadDim; d++)
                output[d] *= inverse;
        }
    }

    /// <summary>Causal with H, kv heads and hd taken from TDims (the shape's values for them are ignored).</summary>
    public static void Causal<TDims>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
        where TDims : struct, IModelDims
    {
        s.Heads = TDims.Heads;
        s.KvHeads = TDims.KvHeads;
        s.HeadDim = TDims.HeadDim;
        Causal(q, k, v, o, s);
    }

    /// <summary>Reference twin: explicit softmax over all visible keys, in double.</summary>
    public static void Reference(float[] q, float[] k, float[] v, float[] o, AttentionShape s)
    {
        int groupSize = s.Heads / s.KvHeads;
        for (int b = 0; b < s.Batch; b++)
            for (int t = 0; t < s.QueryTime; t++)
                for (int h = 0; h < s.Heads; h++)
                {
                    long qBase = (((long)b * s.QueryTime + t) * s.Heads + h) * s.HeadDim;
                    int keys = s.PastLength + t + 1;
                    var scores = new double[keys];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < keys; j++)
                    {
                        long kBase = (((long)b * s.CacheLength + j) * s.KvHeads + h / groupSize) * s.HeadDim;
                        double dot = 0;
                        for (int d = 0; d < s.HeadDim; d++)
                            dot += (double)q[qBase + d] * k[kBase + d];
                        scores[j] = dot * s.Scale;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < keys; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int d = 0; d < s.HeadDim; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < keys; j++)
                            acc += scores[j] * v[(((long)b * s.CacheLength + j) * s.KvHeads + h / groupSize) * s.HeadDim + d];
                        o[qBase + d] = (float)(acc / sum);
                    }
                }
    }
}
