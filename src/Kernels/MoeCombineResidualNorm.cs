using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>
/// The MoE combine, the residual add after it and the RMSNorm that follows (OpenMoE's extra-FFN
/// norm), fused into one row kernel: one launch instead of three, and the combined rows never
/// leave the row being normed. Each step does the float operations of its unfused kernel in the
/// same order (<see cref="MoeCombine"/>, then <see cref="ResidualAdd"/>, then <see cref="RmsNorm"/>),
/// so on a device that does not contract multiply-adds (the CPU accelerator) it equals the
/// three-launch sequence bit for bit.
/// </summary>
public static class MoeCombineResidualNorm
{
    /// <summary>
    /// Per token row t, with the K choices in order j = 0..K-1:
    /// <c>residual[t] += sum_j w[t, j] * expertOutput[row[t, j]]</c> (dropped choices, row -1, add
    /// nothing), then <c>normed[t] = residual[t] * rsqrt(mean(residual[t]^2) + eps) * normWeight</c>.
    /// One thread group per row, grid-stride over rows; <paramref name="normed"/> holds the combined
    /// row until the norm overwrites it. // expertOutput [rows, D], tokenRows and tokenWeights [N, K],
    /// residual [N, D] (in place), normWeight [D], normed [N, D]
    /// </summary>
    public static void Forward(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, int d, float eps)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int token = group; token < n; token += groups)
        {
            var x = residual.SubView((long)token * d, d);
            var y = normed.SubView((long)token * d, d);
            MoeCombine.CombineRow(expertOutput, tokenRows, tokenWeights, y, token, k, d, lane, lanes);
            float sumSquares = 0.0f;
            for (int c = lane; c < d; c += lanes)
            {
                float value = x[c] + y[c];
                x[c] = value;
                sumSquares += value * value;
            }
            float total = GroupReduce.Sum(sumSquares, scratch, lane, lanes);
            float scale = XMath.Rsqrt(total / d + eps);
            for (int c = lane; c < d; c += lanes)
                y[c] = x[c] * scale * normWeight[c];
        }
    }

    /// <summary>
    /// <see cref="Forward"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>) with
    /// one thread per row, as <see cref="RmsNorm.ForwardPacked"/>: D must be a multiple of 8 and the
    /// float views must start pack-aligned.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, int d, float eps)
    {
        int group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = d / Pack8.Width;
        var sourcePacks = Pack8.Of(expertOutput, expertOutput.Length / Pack8.Width);
        var xPacks = Pack8.Of(residual, (long)n * rowPacks);
        var yPacks = Pack8.Of(normed, (long)n * rowPacks);
        var weights = Pack8.Of(normWeight, rowPacks);
        for (int token = group; token < n; token += groups)
        {
            var x = xPacks.SubView((long)token * rowPacks, rowPacks);
            var y = yPacks.SubView((long)token * rowPacks, rowPacks);
            MoeCombine.CombineRowPacked(sourcePacks, tokenRows, tokenWeights, y, token, k, rowPacks, 0, 1);
            float sumSquares = 0.0f;
            for (int c = 0; c < rowPacks; c++)
            {
                var value = Pack8.Add(x[c], y[c]);
                x[c] = value;
                sumSquares = Pack8.AccumulateSquares(sumSquares, value);
            }
            float scale = XMath.Rsqrt(sumSquares / d + eps);
            for (int c = 0; c < rowPacks; c++)
                y[c] = Pack8.ScaleMultiply(x[c], scale, weights[c]);
        }
    }

    /// <summary>Forward with D = TDims.Hidden folded in (K stays a run-time size: a routing rule chosen at run time may change it).</summary>
    public static void Forward<TDims>(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps)
        where TDims : struct, IModelDims
        => Forward(expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, TDims.Hidden, eps);

    /// <summary>ForwardPacked with D = TDims.Hidden folded in.</summary>
    public static void ForwardPacked<TDims>(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps)
        where TDims : struct, IModelDims
        => ForwardPacked(expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, TDims.Hidden, eps);

    /// <summary>Reference twin: the unfused ops' references in sequence (combine in double, the add, the norm in double).</summary>
    public static void Reference(float[] expertOutput, int[] tokenRows, float[] tokenWeights, float[] residual, float[] normWeight, float[] normed,
        int n, int k, int d, float eps)
    {
        var combined = new float[(long)n * d];
        MoeCombine.Reference(expertOutput, tokenRows, tokenWeights, combined, n, k, d);
        ResidualAdd.Reference(residual, combined, n * d);
        RmsNorm.Reference(residual, normWeight, normed, n, d, eps);
    }
}
