using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of full-sequence causal attention (no cache: S = T), recompute-based: the T x T
/// probabilities are never stored. With p_tj = softmax_j(scale * q_t·k_j) and o_t = sum_j p_tj v_j:
/// delta_t = dO_t·o_t, ds_tj = p_tj (dO_t·v_j - delta_t),
/// dq_t = scale sum_j ds_tj k_j, dk_j = scale sum_t ds_tj q_t, dv_j = sum_t p_tj dO_t.
/// Two passes so that every output row has one owner (no atomics, deterministic):
/// <see cref="Query"/> per query row, then <see cref="KeyValue"/> per key row.
/// q, o, dO, dq [B, T, H, hd]; k, v, dk, dv [B, T, KvH, hd]; lse, delta [B, T, H].
/// </summary>
public static class AttentionBackward
{
    /// <summary>Per (b, t, h): lse [row] = logsumexp of the scaled scores, delta [row], dq (overwritten).</summary>
    public static void Query(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> dO,
        ArrayView<float> dq, ArrayView<float> lse, ArrayView<float> delta, AttentionShape s)
    {
        long rows = (long)s.Batch * s.QueryTime * s.Heads;
        long stride = (long)Grid.DimX * Group.DimX;
        int groupSize = s.Heads / s.KvHeads;
        int hd = s.HeadDim;
        long kvStride = (long)s.KvHeads * hd;
        for (long row = Grid.GlobalIndex.X; row < rows; row += stride)
        {
            int h = (int)(row % s.Heads);
            int t = (int)(row / s.Heads % s.QueryTime);
            int b = (int)(row / ((long)s.Heads * s.QueryTime));
            var query = q.SubView(row * hd, hd);
            var gradOut = dO.SubView(row * hd, hd);
            var output = o.SubView(row * hd, hd);
            var gradQuery = dq.SubView(row * hd, hd);
            long kvFirst = (long)b * s.QueryTime * kvStride + (long)(h / groupSize) * hd;
            float max = float.NegativeInfinity;
            for (int j = 0; j <= t; j++)
            {
                var key = k.SubView(kvFirst + j * kvStride, hd);
                float dot = 0.0f;
                for (int d = 0; d < hd; d++)
                    dot += query[d] * key[d];
                max = XMath.Max(max, dot * s.Scale);
            }
            float sum = 0.0f;
            for (int j = 0; j <= t; j++)
            {
                var key = k.SubView(kvFirst + j * kvStride, hd);
                float dot = 0.0f;
                for (int d = 0; d < hd; d++)
                    dot += query[d] * key[d];
                sum += XMath.Exp(dot * s.Scale - max);
            }
            float logSumExp = max + XMath.Log(sum);
            float dlt = 0.0f;
            for (int d = 0; d < hd; d++)
            {
                dlt += gradOut[d] * output[d];
                gradQuery[d] = 0.0f;
            }
            for (int j = 0; j <= t; j++)
            {
                var key = k.SubView(kvFirst + j * kvStride, hd);
                var value = v.SubView(kvFirst + j * kvStride, hd);
                float dot = 0.0f, dv = 0.0f;
                for (int d = 0; d < hd; d++)
                {
                    dot += query[d] * key[d];
                    dv += gradOut[d] * value[d];
                }
                float ds = XMath.Exp(dot * s.Scale - logSumExp) * (dv - dlt) * s.Scale;
                for (int d = 0; d < hd; d++)
                    gradQuery[d] += ds * key[d];
            }
            lse[row] = logSumExp;
            delta[row] = dlt;
        }
    }

    /// <summary>Per (b, j, kv head): dk, dv (overwritten), summing over the query heads of its group and t >= j.</summary>
    public static void KeyValue(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dO,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dk, ArrayView<float> dv, AttentionShape s)
    {
        long rows = (long)s.Batch * s.QueryTime * s.KvHeads;
        long stride = (long)Grid.DimX * Group.DimX;
        int groupSize = s.Heads / s.KvHeads;
        int hd = s.HeadDim;
        long qStride = (long)s.Heads * hd;
        for (long row = Grid.GlobalIndex.X; row < rows; row += stride)
        {
            int kvh = (int)(row % s.KvHeads);
            int j = (int)(row / s.KvHeads % s.QueryTime);
            int b = (int)(row / ((long)s.KvHeads * s.QueryTime));
            var key = k.SubView(row * hd, hd);
            var value = v.SubView(row * hd, hd);
            var gradKey = dk.SubView(row * hd, hd);
            var gradValue = dv.SubView(row * hd, hd);
            for (int d = 0; d < hd; d++)
            {
                gradKey[d] = 0.0f;
                gradValue[d] = 0.0f;
            }
            for (int g = 0; g < groupSize; g++)
            {
                int h = kvh * groupSize + g;
                for (int t = j; t < s.QueryTime; t++)
                {
                    long qRow = ((long)b * s.QueryTime + t) * s.Heads + h;
                    var query = q.SubView(qRow * hd, hd);
                    var gradOut = dO.SubView(qRow * hd, hd);
                    float dot = 0.0f, dov = 0.0f;
                    for (int d = 0; d < hd; d++)
                    {
                        dot += query[d] * key[d];
                        dov += gradOut[d] * value[d];
                    }
                    float p = XMath.Exp(dot * s.Scale - lse[qRow]);
                    float ds = p * (dov - delta[qRow]) * s.Scale;
                    for (int d = 0; d < hd; d++)
                    {
                        gradValue[d] += p * gradOut[d];
                        gradKey[d] += ds * query[d];
                    }
                }
            }
        }
    }

    /// <summary>Reference twin of both passes: explicit probabilities in double.</summary>
    public static void Reference(float[] q, float[] k, float[] v, float[] dO, float[] dq, float[] dk, float[] dv, AttentionShape s)
    {
        int groupSize = s.Heads / s.KvHeads, hd = s.HeadDim, T = s.QueryTime;
        var dqAcc = new double[dq.Length];
        var dkAcc = new double[dk.Length];
        var dvAcc = new double[dv.Length];
        for (int b = 0; b < s.Batch; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < s.Heads; h++)
                {
                    long qBase = (((long)b * T + t) * s.Heads + h) * hd;
                    long KBase(int j) => (((long)b * T + j) * s.KvHeads + h / groupSize) * hd;
                    var p = new double[t + 1];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= t; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += (double)q[qBase + d] * k[KBase(j) + d];
                        p[j] = dot * s.Scale;
                        max = Math.Max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) { p[j] = Math.Exp(p[j] - max); sum += p[j]; }
                    var o = new double[hd];
                    for (int j = 0; j <= t; j++)
                    {
                        p[j] /= sum;
                        for (int d = 0; d < hd; d++) o[d] += p[j] * v[KBase(j) + d];
                    }
                    double delta = 0;
                    for (int d = 0; d < hd; d++) delta += dO[qBase + d] * o[d];
                    for (int j = 0; j <= t; j++)
                    {
                        double dov = 0;
                        for (int d = 0; d < hd; d++) dov += (double)dO[qBase + d] * v[KBase(j) + d];
                        double ds = p[j] * (dov - delta) * s.Scale;
                        for (int d = 0; d < hd; d++)
                        {
                            dqAcc[qBase + d] += ds * k[KBase(j) + d];
                            dkAcc[KBase(j) + d] += ds * q[qBase + d];
                            dvAcc[KBase(j) + d] += p[j] * dO[qBase + d];
                        }
                    }
                }
        for (int i = 0; i < dq.Length; i++) dq[i] = (float)dqAcc[i];
        for (int i = 0; i < dk.Length; i++) dk[i] = (float)dkAcc[i];
        for (int i = 0; i < dv.Length; i++) dv[i] = (float)dvAcc[i];
    }
}
