using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>
/// Scalar double-precision building blocks of the reference forward. Activations are flat
/// row-major arrays; each method states its shapes. Weights in Hugging Face layout are
/// [out, in] and are applied as y = x·W^T.
/// </summary>
public static class ReferenceOps
{
    /// <summary>y = x·W^T. x [n, inDim], W [outDim, inDim] -> y [n, outDim].</summary>
    public static double[] Linear(double[] x, int n, int inDim, double[] weight, int outDim)
    {
        if (x.Length != n * inDim || weight.Length != outDim * inDim)
            throw new ArgumentException($"Linear: x has {x.Length} values for [{n}, {inDim}], W has {weight.Length} for [{outDim}, {inDim}].");
        var y = new double[n * outDim];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outDim; o++)
            {
                int xRow = i * inDim, wRow = o * inDim;
                double sum = 0;
                for (int k = 0; k < inDim; k++) sum += x[xRow + k] * weight[wRow + k];
                y[i * outDim + o] = sum;
            }
        return y;
    }

    /// <summary>T5 RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w, no mean subtraction, no bias. x [n, d], w [d].</summary>
    public static double[] RmsNorm(double[] x, int n, int d, double[] weight, double eps)
    {
        var y = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            double meanSquare = 0;
            for (int j = 0; j < d; j++) meanSquare += x[i * d + j] * x[i * d + j];
            meanSquare /= d;
            double scale = 1.0 / Math.Sqrt(meanSquare + eps);
            for (int j = 0; j < d; j++) y[i * d + j] = x[i * d + j] * scale * weight[j];
        }
        return y;
    }

    /// <summary>RoPE angle for dimension <paramref name="j"/> of a head at <paramref name="position"/>: the table is [angles, angles].</summary>
    public static double RopeAngle(int position, int j, int headDim, double theta)
    {
        int i = j % (headDim / 2);
        return position * Math.Pow(theta, -2.0 * i / headDim);
    }

    /// <summary>
    /// Rotate-half RoPE of one head vector in place (first half / second half, not interleaved):
    /// v' = v*cos + rotate_half(v)*sin with rotate_half([a, b]) = [-b, a]. v [hd] at <paramref name="offset"/>.
    /// </summary>
    public static void ApplyRope(double[] v, int offset, int headDim, int position, double theta)
    {
        int half = headDim / 2;
        var rotated = new double[headDim];
        for (int j = 0; j < headDim; j++)
        {
            double rotateHalf = j < half ? -v[offset + j + half] : v[offset + j - half];
            double angle = RopeAngle(position, j, headDim, theta);
            rotated[j] = v[offset + j] * Math.Cos(angle) + rotateHalf * Math.Sin(angle);
        }
        Array.Copy(rotated, 0, v, offset, headDim);
    }

    /// <summary>The config's attention logit scale: 1 for OpenMoE (folded into init), 1/sqrt(hd) otherwise.</summary>
    public static double AttentionLogitScale(ModelConfig config) => config.AttentionScale switch
    {
        AttentionScale.None => 1.0,
        AttentionScale.InverseSqrtHeadDim => 1.0 / Math.Sqrt(config.HeadDim),
        _ => throw new InvalidOperationException($"Unknown attention scale {config.AttentionScale}."),
    };

    /// <summary>scores[s] = logitScale * q_t · k_s for s &lt;= t (one query row against its causal keys).</summary>
    public static void CausalScores(double[] q, double[] k, int b, int t, int time, int kvh, int kvHeads, int headDim,
        int qOffset, double logitScale, double[] scores)
    {
        for (int s = 0; s <= t; s++)
        {
            int kOffset = ((b * time + s) * kvHeads + kvh) * headDim;
            double dot = 0;
            for (int j = 0; j < headDim; j++) dot += q[qOffset + j] * k[kOffset + j];
            scores[s] = dot * logitScale;
        }
    }

    /// <summary>
    /// Causal attention core over already-rotated q/k. Query head h reads key/value head
    /// h / (H / KV) (grouped-query attention when KV &lt; H).
    /// q [B, T, H, hd], k/v [B, T, KV, hd] -> out [B, T, H, hd].
    /// </summary>
    public static double[] CausalAttention(double[] q, double[] k, double[] v, int batch, int time, int heads, int kvHeads, int headDim, double logitScale)
    {
        if (heads % kvHeads != 0) throw new ArgumentException($"Heads {heads} must be a multiple of kv heads {kvHeads}.");
        int group = heads / kvHeads;
        var output = new double[batch * time * heads * headDim];
        var scores = new double[time];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                for (int t = 0; t < time; t++)
                {
                    int qOffset = ((b * time + t) * heads + h) * headDim;
                    CausalScores(q, k, b, t, time, kvh, kvHeads, headDim, qOffset, logitScale, scores);
                    var probs = Softmax(scores, 0, t + 1);
                    for (int s = 0; s <= t; s++)
                    {
                        int vOffset = ((b * time + s) * kvHeads + kvh) * headDim;
                        for (int j = 0; j < headDim; j++) output[qOffset + j] += probs[s] * v[vOffset + j];
                    }
                }
            }
        return output;
    }

    /// <summary>Numerically stable softmax of values[offset .. offset+count).</summary>
    public static double[] Softmax(double[] values, int offset, int count)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < count; i++) max = Math.Max(max, values[offset + i]);
        var result = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++) sum += result[i] = Math.Exp(values[offset + i] - max);
        for (int i = 0; i < count; i++) result[i] /= sum;
        return result;
    }

    /// <summary>log(sum(exp(values[offset .. offset+count)))), stable.</summary>
    public static double LogSumExp(double[] values, int offset, int count)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < count; i++) max = Math.Max(max, values[offset + i]);
        double sum = 0;
        for (int i = 0; i < count; i++) sum += Math.Exp(values[offset + i] - max);
        return max + Math.Log(sum);
    }

    /// <summary>silu(x) = x * sigmoid(x).</summary>
    public static double Silu(double x) => x / (1.0 + Math.Exp(-x));

    /// <summary>
    /// One feed-forward block, weights in [out, in] layout. x [n, D] -> [n, D].
    /// OpenMoE gated: g = x·Wg^T [n, 2F], h = g[:, :F] * silu(g[:, F:]) * (x·Wup^T).
    /// SwiGLU: h = silu(x·Wg^T) * (x·Wup^T), gate width F. Then out = h·Wdown^T.
    /// </summary>
    public static double[] Ffn(FfnKind kind, double[] x, int n, int d, FfnWeights weights)
    {
        int width = weights.Width;
        var up = Linear(x, n, d, weights.Up, width);
        var hidden = new double[n * width];
        if (kind == FfnKind.OpenMoEGated)
        {
            var gate = Linear(x, n, d, weights.Gate, 2 * width); // [n, 2F]
            for (int i = 0; i < n; i++)
                for (int j = 0; j < width; j++)
                    hidden[i * width + j] = gate[i * 2 * width + j] * Silu(gate[i * 2 * width + width + j]) * up[i * width + j];
        }
        else
        {
            var gate = Linear(x, n, d, weights.Gate, width); // [n, F]
            for (int i = 0; i < hidden.Length; i++) hidden[i] = Silu(gate[i]) * up[i];
        }
        return Linear(hidden, n, width, weights.Down, d);
    }
}

/// <summary>One FFN's weights in [out, in] layout: Gate [2F or F, D], Up [F, D], Down [D, F].</summary>
public sealed record FfnWeights(double[] Gate, double[] Up, double[] Down, int Width);
