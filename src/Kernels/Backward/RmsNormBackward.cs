using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of <see cref="RmsNorm"/>: y = x * r * w with r = rsqrt(mean(x^2) + eps).
/// dx_i = r * w_i * dy_i - r^3 / D * x_i * sum_j(w_j * dy_j * x_j); dw_c = sum_rows dy_c * x_c * r.
/// </summary>
public static class RmsNormBackward
{
    /// <summary>
    /// dx [N, D] += d loss / d x; writes rowScale [N] = r for <see cref="Weight"/>. x, dy [N, D], w [D].
    /// One thread group per row, grid-stride over rows.
    /// </summary>
    public static void Input(ArrayView<float> x, ArrayView<float> w, ArrayView<float> dy, ArrayView<float> dx,
        ArrayView<float> rowScale, int n, int d, float eps)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < n; row += groups)
        {
            var input = x.SubView((long)row * d, d);
            var gradOut = dy.SubView((long)row * d, d);
            var gradIn = dx.SubView((long)row * d, d);
            float sumSquares = 0.0f, dot = 0.0f;
            for (int c = lane; c < d; c += lanes)
            {
                float value = input[c];
                sumSquares += value * value;
                dot += w[c] * gradOut[c] * value;
            }
            float total = GroupReduce.Sum(sumSquares, scratch, lane, lanes);
            float dotTotal = GroupReduce.Sum(dot, scratch, lane, lanes);
            float r = XMath.Rsqrt(total / d + eps);
            float k = r * r * r * dotTotal / d;
            for (int c = lane; c < d; c += lanes)
                gradIn[c] += r * w[c] * gradOut[c] - k * input[c];
            if (lane == 0)
                rowScale[row] = r;
        }
    }

    /// <summary>dw [D] += sum over rows of dy * x * rowScale. One logical thread per column (fixed row order: deterministic).</summary>
    public static void Weight(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> rowScale, ArrayView<float> dw, int n, int d)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long c = Grid.GlobalIndex.X; c < d; c += stride)
        {
            float acc = 0.0f;
            for (int row = 0; row < n; row++)
                acc += dy[(long)row * d + c] * x[(long)row * d + c] * rowScale[row];
            dw[c] += acc;
        }
    }

    /// <summary>Reference twin of <see cref="Input"/> and <see cref="Weight"/> together (double): dx += ..., dw += ....</summary>
    public static void Reference(float[] x, float[] w, float[] dy, float[] dx, float[] dw, int n, int d, float eps)
    {
        for (int row = 0; row < n; row++)
        {
            double sumSquares = 0, dot = 0;
            for (int c = 0; c < d; c++)
            {
                double value = x[row * d + c];
                sumSquares += value * value;
                dot += (double)w[c] * dy[row * d + c] * value;
            }
            double r = 1.0 / Math.Sqrt(sumSquares / d + eps);
            for (int c = 0; c < d; c++)
            {
                dx[row * d + c] += (float)(r * w[c] * dy[row * d + c] - r * r * r * dot / d * x[row * d + c]);
                dw[c] += (float)((double)dy[row * d + c] * x[row * d + c] * r);
            }
        }
    }
}
