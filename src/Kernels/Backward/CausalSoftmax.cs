using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Row softmax of causal attention scores for the GEMM formulation of attention used in training:
/// scores [R, T] with row r at query position t = r % T; column j &gt; t is masked (probability 0).
/// p_j = softmax_j(scale * s_j) over j &lt;= t. The backward turns dP into dS in place:
/// dS_j = scale * p_j * (dP_j - sum_i p_i dP_i).
/// </summary>
public static class CausalSoftmax
{
    /// <summary>In place: scores [R, T] become probabilities. One thread group per row, grid-stride over rows.</summary>
    public static void Forward(ArrayView<float> scores, int rows, int t, float scale)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < rows; row += groups)
        {
            var s = scores.SubView((long)row * t, t);
            int visible = row % t + 1;
            float max = float.NegativeInfinity;
            for (int j = lane; j < visible; j += lanes)
                max = XMath.Max(max, s[j] * scale);
            max = GroupReduce.Max(max, scratch, lane, lanes);
            float sum = 0.0f;
            for (int j = lane; j < visible; j += lanes)
            {
                float e = XMath.Exp(s[j] * scale - max);
                s[j] = e;
                sum += e;
            }
            float inverse = 1.0f / GroupReduce.Sum(sum, scratch, lane, lanes);
            for (int j = lane; j < t; j += lanes)
                s[j] = j < visible ? s[j] * inverse : 0.0f;
        }
    }

    /// <summary>In place: dP [R, T] becomes dS given the probabilities p [R, T]. One thread group per row.</summary>
    public static void Backward(ArrayView<float> p, ArrayView<float> grad, int rows, int t, float scale)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < rows; row += groups)
        {
            var probabilities = p.SubView((long)row * t, t);
            var g = grad.SubView((long)row * t, t);
            int visible = row % t + 1;
            float dot = 0.0f;
            for (int j = lane; j < visible; j += lanes)
                dot += probabilities[j] * g[j];
            dot = GroupReduce.Sum(dot, scratch, lane, lanes);
            for (int j = lane; j < t; j += lanes)
                g[j] = j < visible ? scale * probabilities[j] * (g[j] - dot) : 0.0f;
        }
    }

    /// <summary>Reference twin of <see cref="Forward"/> (double).</summary>
    public static void ForwardReference(float[] scores, int rows, int t, float scale)
    {
        for (int row = 0; row < rows; row++)
        {
            int visible = row % t + 1;
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < visible; j++) max = Math.Max(max, (double)scores[row * t + j] * scale);
            var e = new double[visible];
            for (int j = 0; j < visible; j++) sum += e[j] = Math.Exp(scores[row * t + j] * (double)scale - max);
            for (int j = 0; j < t; j++) scores[row * t + j] = j < visible ? (float)(e[j] / sum) : 0f;
        }
    }

    /// <summary>Reference twin of <see cref="Backward"/> (double).</summary>
    public static void BackwardReference(float[] p, float[] grad, int rows, int t, float scale)
    {
        for (int row = 0; row < rows; row++)
        {
            int visible = row % t + 1;
            double dot = 0;
            for (int j = 0; j < visible; j++) dot += (double)p[row * t + j] * grad[row * t + j];
            for (int j = 0; j < t; j++) grad[row * t + j] = j < visible ? (float)(scale * p[row * t + j] * (grad[row * t + j] - dot)) : 0f;
        }
    }
}
