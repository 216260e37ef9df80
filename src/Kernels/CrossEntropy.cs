using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// Token cross-entropy over the vocabulary. A target outside [0, V) (use -1) marks a token
/// that is not a target (inputs of a prefix-LM example, padding): its loss is 0 and it does
/// not count in the mean.
/// </summary>
public static class CrossEntropy
{
    /// <summary>
    /// logits [N, V], targets [N]; writes rowLoss [N] = logsumexp(row) - row[target] (0 when
    /// ignored) and rowLogSumExp [N] (for the output z-loss and the backward pass). One thread
    /// group per row, grid-stride over rows.
    /// </summary>
    public static void PerRow(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLoss,
        ArrayView<float> rowLogSumExp, int n, int v)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < n; row += groups)
        {
            var input = logits.SubView((long)row * v, v);
            float logSumExp = RowStatistics.LogSumExp(input, v, scratch, lane, lanes);
            if (lane == 0)
            {
                int target = targets[row];
                rowLogSumExp[row] = logSumExp;
                rowLoss[row] = target >= 0 && target < v ? logSumExp - input[target] : 0.0f;
            }
        }
    }

    /// <summary>PerRow with V = TDims.Vocab folded in.</summary>
    public static void PerRow<TDims>(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLoss,
        ArrayView<float> rowLogSumExp, int n)
        where TDims : struct, IModelDims
        => PerRow(logits, targets, rowLoss, rowLogSumExp, n, TDims.Vocab);

    /// <summary>
    /// Mean loss over target tokens, launched as a single group: result [2] = (mean, target count);
    /// the mean is 0 when no token is a target. The group reduction fixes the sum order (deterministic).
    /// </summary>
    public static void Mean(ArrayView<float> rowLoss, ArrayView<int> targets, ArrayView<float> result, int n, int v)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        float localSum = 0.0f;
        float localCount = 0.0f;
        for (int row = lane; row < n; row += lanes)
        {
            if (targets[row] >= 0 && targets[row] < v)
            {
                localSum += rowLoss[row];
                localCount += 1.0f;
            }
        }
        float sum = GroupReduce.Sum(localSum, scratch, lane, lanes);
        float count = GroupReduce.Sum(localCount, scratch, lane, lanes);
        if (lane == 0)
        {
            result[0] = count > 0.0f ? sum / count : 0.0f;
            result[1] = count;
        }
    }

    /// <summary>Reference twin of <see cref="PerRow(ArrayView{float}, ArrayView{int}, ArrayView{float}, ArrayView{float}, int, int)"/> and <see cref="Mean"/>; returns (mean, count).</summary>
    public static (double Mean, int Count) Reference(float[] logits, int[] targets, float[] rowLoss, float[] rowLogSumExp, int n, int v)
    {
        double sum = 0;
        int count = 0;
        for (int row = 0; row < n; row++)
        {
            double logSumExp = RowStatistics.LogSumExpReference(logits, (long)row * v, v);
            rowLogSumExp[row] = (float)logSumExp;
            bool isTarget = targets[row] >= 0 && targets[row] < v;
            double loss = isTarget ? logSumExp - logits[(long)row * v + targets[row]] : 0.0;
            rowLoss[row] = (float)loss;
            if (isTarget)
            {
                sum += loss;
                count++;
            }
        }
        return (count > 0 ? sum / count : 0.0, count);
    }
}
