using ILGPU;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of the MoE dispatch/combine and the router softmax, with the routing held fixed.
/// tokenRows [N, K] = row of (token, choice) in the expert buffers, -1 when dropped: dropped
/// assignments get zero gradient. Each kernel owns whole tokens (no atomics, deterministic).
/// </summary>
public static class MoeBackward
{
    /// <summary>
    /// Backward of <see cref="MoeCombine"/>: dExpertOut [rows, D] row r = w[t, j] * dOut[t] and
    /// dWeights [N, K] = dOut[t]·expertOut[r] (0 when dropped). One thread group per token.
    /// </summary>
    public static void Combine(ArrayView<float> dOut, ArrayView<float> expertOut, ArrayView<int> tokenRows, ArrayView<float> weights,
        ArrayView<float> dExpertOut, ArrayView<float> dWeights, int n, int k, int d)
    {
        int group = Grid.IdxX, groups = Grid.DimX, lane = Group.IdxX, lanes = Group.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int token = group; token < n; token += groups)
        {
            var gradOut = dOut.SubView((long)token * d, d);
            for (int j = 0; j < k; j++)
            {
                int row = tokenRows[token * k + j];
                float dot = 0.0f;
                if (row >= 0)
                {
                    float w = weights[token * k + j];
                    var output = expertOut.SubView((long)row * d, d);
                    var gradRow = dExpertOut.SubView((long)row * d, d);
                    for (int c = lane; c < d; c += lanes)
                    {
                        gradRow[c] = w * gradOut[c];
                        dot += gradOut[c] * output[c];
                    }
                }
                float total = GroupReduce.Sum(dot, scratch, lane, lanes);
                if (lane == 0)
                    dWeights[token * k + j] = row >= 0 ? total : 0.0f;
            }
        }
    }

    /// <summary>Backward of <see cref="MoeDispatch"/>: dx [N, D] += sum over kept choices of dExpertIn [rows, D]. One thread group per token.</summary>
    public static void Dispatch(ArrayView<float> dExpertIn, ArrayView<int> tokenRows, ArrayView<float> dx, int n, int k, int d)
    {
        int group = Grid.IdxX, groups = Grid.DimX, lane = Group.IdxX, lanes = Group.DimX;
        for (int token = group; token < n; token += groups)
        {
            var target = dx.SubView((long)token * d, d);
            for (int j = 0; j < k; j++)
            {
                int row = tokenRows[token * k + j];
                if (row < 0)
                    continue;
                var source = dExpertIn.SubView((long)row * d, d);
                for (int c = lane; c < d; c += lanes)
                    target[c] += source[c];
            }
        }
    }

    /// <summary>
    /// Router softmax backward: dLogits [N, E] = p * (dp - p·dp), with dp [E] from the combine-weight
    /// gradients dWeights [N, K] of the chosen experts choices [N, K]. Raw softmax gating: dp[e] = dw;
    /// renormalised top-k (w_r = p_r / S): dp[e_j] = dw_j / S - sum_r dw_r p_r / S^2. One logical thread per token.
    /// probabilities [N, E]; renormalized 1 or 0. Sigmoid scores (sigmoid 1): each score depends on its own
    /// logit only, dLogits = dp * s * (1 - s). Overwrites dLogits (router losses are added after).
    /// </summary>
    public static void RouterSoftmax(ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> dWeights,
        ArrayView<float> dLogits, int n, int e, int k, int renormalized, int sigmoid)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long token = Grid.GlobalIndex.X; token < n; token += stride)
        {
            var p = probabilities.SubView(token * e, e);
            var grad = dLogits.SubView(token * e, e);
            float topSum = 0.0f, weighted = 0.0f;
            for (int j = 0; j < k; j++)
            {
                float pj = p[choices[(int)token * k + j]];
                topSum += pj;
                weighted += dWeights[(int)token * k + j] * pj;
            }
            float dot = 0.0f;
            for (int x = 0; x < e; x++)
            {
                float dp = 0.0f;
                for (int j = 0; j < k; j++)
                {
                    if (choices[(int)token * k + j] != x)
                        continue;
                    float dw = dWeights[(int)token * k + j];
                    dp += renormalized != 0 ? dw / topSum - weighted / (topSum * topSum) : dw;
                }
                grad[x] = dp;
                dot += dp * p[x];
            }
            for (int x = 0; x < e; x++)
                grad[x] = sigmoid != 0 ? grad[x] * p[x] * (1.0f - p[x]) : p[x] * (grad[x] - dot);
        }
    }

    /// <summary>Reference twin of <see cref="Combine"/> (double dots).</summary>
    public static void CombineReference(float[] dOut, float[] expertOut, int[] tokenRows, float[] weights, float[] dExpertOut, float[] dWeights, int n, int k, int d)
    {
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
            {
                int row = tokenRows[t * k + j];
                double dot = 0;
                if (row >= 0)
                    for (int c = 0; c < d; c++)
                    {
                        dExpertOut[row * d + c] = (float)((double)weights[t * k + j] * dOut[t * d + c]);
                        dot += (double)dOut[t * d + c] * expertOut[row * d + c];
                    }
                dWeights[t * k + j] = (float)dot;
            }
    }

    /// <summary>Reference twin of <see cref="Dispatch"/>.</summary>
    public static void DispatchReference(float[] dExpertIn, int[] tokenRows, float[] dx, int n, int k, int d)
    {
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
            {
                int row = tokenRows[t * k + j];
                if (row >= 0)
                    for (int c = 0; c < d; c++) dx[t * d + c] += dExpertIn[row * d + c];
            }
    }

    /// <summary>Reference twin of <see cref="RouterSoftmax"/> (double).</summary>
    public static void RouterSoftmaxReference(float[] probabilities, int[] choices, float[] dWeights, float[] dLogits, int n, int e, int k, bool renormalized, bool sigmoid = false)
    {
        for (int t = 0; t < n; t++)
        {
            var dp = new double[e];
            double topSum = 0, weighted = 0;
            for (int j = 0; j < k; j++)
            {
                topSum += probabilities[t * e + choices[t * k + j]];
                weighted += (double)dWeights[t * k + j] * probabilities[t * e + choices[t * k + j]];
            }
            for (int j = 0; j < k; j++)
                dp[choices[t * k + j]] += renormalized ? dWeights[t * k + j] / topSum - weighted / (topSum * topSum) : dWeights[t * k + j];
            double dot = 0;
            for (int x = 0; x < e; x++) dot += dp[x] * probabilities[t * e + x];
            for (int x = 0; x < e; x++)
                dLogits[t * e + x] = sigmoid
                    ? (float)(dp[x] * probabilities[t * e + x] * (1.0 - probabilities[t * e + x]))
                    : (float)(probabilities[t * e + x] * (dp[x] - dot));
        }
    }
}
