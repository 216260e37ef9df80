using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>
/// Backward twins of <see cref="ReferenceOps"/>: each takes the forward inputs and the output
/// gradient, returns the input gradient and adds weight gradients into the given arrays.
/// </summary>
public static class ReferenceOpsBackward
{
    /// <summary>y = x·W^T. x [n, in], W [out, in], dy [n, out] -> dx [n, in]; dW [out, in] += dy^T·x.</summary>
    public static double[] Linear(double[] x, int n, int inDim, double[] weight, int outDim, double[] dy, double[] dWeight)
    {
        var dx = new double[n * inDim];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outDim; o++)
            {
                double g = dy[i * outDim + o];
                if (g == 0) continue;
                int xRow = i * inDim, wRow = o * inDim;
                for (int k = 0; k < inDim; k++)
                {
                    dx[xRow + k] += g * weight[wRow + k];
                    dWeight[wRow + k] += g * x[xRow + k];
                }
            }
        return dx;
    }

    /// <summary>
    /// RMSNorm y_j = x_j r w_j with r = (mean(x^2) + eps)^-1/2. x, dy [n, d] -> dx [n, d]; dw [d] += sum_rows dy x r.
    /// dx_j = r w_j dy_j - x_j r^3 / d * sum_k dy_k w_k x_k.
    /// </summary>
    public static double[] RmsNorm(double[] x, int n, int d, double[] weight, double eps, double[] dy, double[] dWeight)
    {
        var dx = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            double meanSquare = 0;
            for (int j = 0; j < d; j++) meanSquare += x[i * d + j] * x[i * d + j];
            meanSquare /= d;
            double r = 1.0 / Math.Sqrt(meanSquare + eps);
            double projection = 0;
            for (int j = 0; j < d; j++) projection += dy[i * d + j] * weight[j] * x[i * d + j];
            for (int j = 0; j < d; j++)
            {
                dWeight[j] += dy[i * d + j] * x[i * d + j] * r;
                dx[i * d + j] = r * weight[j] * dy[i * d + j] - x[i * d + j] * r * r * r / d * projection;
            }
        }
        return dx;
    }

    /// <summary>RoPE is a rotation, so its transpose is the rotation by the opposite angle (position -p). In place on v [hd].</summary>
    public static void RopeTranspose(double[] v, int offset, int headDim, int position, double theta) =>
        ReferenceOps.ApplyRope(v, offset, headDim, -position, theta);

    /// <summary>
    /// Backward of <see cref="ReferenceOps.CausalAttention"/>. q [B, T, H, hd], k/v [B, T, KV, hd],
    /// dOut [B, T, H, hd] -> dq, dk, dv in the shapes of q, k, v (kv-head gradients summed over their query heads).
    /// </summary>
    public static (double[] DQ, double[] DK, double[] DV) CausalAttention(double[] q, double[] k, double[] v, int batch, int time, int heads, int kvHeads, int headDim, double logitScale, double[] dOut)
    {
        int group = heads / kvHeads;
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        var scores = new double[time];
        var dProbs = new double[time];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                for (int t = 0; t < time; t++)
                {
                    int qOffset = ((b * time + t) * heads + h) * headDim;
                    ReferenceOps.CausalScores(q, k, b, t, time, kvh, kvHeads, headDim, qOffset, logitScale, scores);
                    var probs = ReferenceOps.Softmax(scores, 0, t + 1);
                    double weighted = 0;
                    for (int s = 0; s <= t; s++)
                    {
                        int vOffset = ((b * time + s) * kvHeads + kvh) * headDim;
                        double dp = 0;
                        for (int j = 0; j < headDim; j++)
                        {
                            dp += dOut[qOffset + j] * v[vOffset + j];
                            dv[vOffset + j] += probs[s] * dOut[qOffset + j];
                        }
                        dProbs[s] = dp;
                        weighted += dp * probs[s];
                    }
                    for (int s = 0; s <= t; s++)
                    {
                        int kOffset = ((b * time + s) * kvHeads + kvh) * headDim;
                        double dScore = probs[s] * (dProbs[s] - weighted) * logitScale;
                        for (int j = 0; j < headDim; j++)
                        {
                            dq[qOffset + j] += dScore * k[kOffset + j];
                            dk[kOffset + j] += dScore * q[qOffset + j];
                        }
                    }
                }
            }
        return (dq, dk, dv);
    }

    /// <summary>d silu(a) / da = sigmoid(a) * (1 + a * (1 - sigmoid(a))).</summary>
    public static double SiluDerivative(double a)
    {
        double sigmoid = 1.0 / (1.0 + Math.Exp(-a));
        return sigmoid * (1.0 + a * (1.0 - sigmoid));
    }

    /// <summary>Backward of <see cref="ReferenceOps.Ffn"/>. x, dOut [n, D] -> dx [n, D]; adds into <paramref name="gradients"/> (same layout as the weights).</summary>
    public static double[] Ffn(FfnKind kind, double[] x, int n, int d, FfnWeights weights, double[] dOut, FfnWeights gradients)
    {
        int width = weights.Width;
        bool openMoe = kind == FfnKind.OpenMoEGated;
        int gateWidth = openMoe ? 2 * width : width;
        var gate = ReferenceOps.Linear(x, n, d, weights.Gate, gateWidth);
        var up = ReferenceOps.Linear(x, n, d, weights.Up, width);
        var hidden = new double[n * width];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < width; j++)
            {
                double u = up[i * width + j];
                hidden[i * width + j] = openMoe
                    ? gate[i * gateWidth + j] * ReferenceOps.Silu(gate[i * gateWidth + width + j]) * u
                    : ReferenceOps.Silu(gate[i * gateWidth + j]) * u;
            }

        var dHidden = Linear(hidden, n, width, weights.Down, d, dOut, gradients.Down);
        var dGate = new double[n * gateWidth];
        var dUp = new double[n * width];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < width; j++)
            {
                double dh = dHidden[i * width + j], u = up[i * width + j];
                if (openMoe)
                {
                    double linear = gate[i * gateWidth + j], activated = gate[i * gateWidth + width + j];
                    dGate[i * gateWidth + j] = dh * ReferenceOps.Silu(activated) * u;
                    dGate[i * gateWidth + width + j] = dh * linear * u * SiluDerivative(activated);
                    dUp[i * width + j] = dh * linear * ReferenceOps.Silu(activated);
                }
                else
                {
                    double activated = gate[i * gateWidth + j];
                    dGate[i * gateWidth + j] = dh * u * SiluDerivative(activated);
                    dUp[i * width + j] = dh * ReferenceOps.Silu(activated);
                }
            }
        var dx = Linear(x, n, d, weights.Gate, gateWidth, dGate, gradients.Gate);
        var dxUp = Linear(x, n, d, weights.Up, width, dUp, gradients.Up);
        for (int i = 0; i < dx.Length; i++) dx[i] += dxUp[i];
        return dx;
    }
}
