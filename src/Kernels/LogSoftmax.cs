using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>Row-wise log-softmax over the vocabulary: y = x - logsumexp(x).</summary>
public static class LogSoftmax
{
    /// <summary>logits [N, V], output [N, V] (may alias logits). One thread group per row, grid-stride over rows.</summary>
    public static void Forward(ArrayView<float> logits, ArrayView<float> output, int n, int v)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < n; row += groups)
        {
            var input = logits.SubView((long)row * v, v);
            var target = output.SubView((long)row * v, v);
            float logSumExp = RowStatistics.LogSumExp(input, v, scratch, lane, lanes);
            for (int c = lane; c < v; c += lanes)
                target[c] = input[c] - logSumExp;
        }
    }

    /// <summary>
    /// <see cref="Forward(ArrayView{float}, ArrayView{float}, int, int)"/> in packs of eight (the CPU
    /// accelerator's form, see <see cref="Pack8"/>) for one-thread row groups: V must be a multiple
    /// of 8 and both views must start pack-aligned. Max and sum run in element order, so results
    /// equal the one-float kernel's with one thread per row.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> logits, ArrayView<float> output, int n, int v)
    {
        int group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = v / Pack8.Width;
        var logitPacks = Pack8.Of(logits, (long)n * rowPacks);
        var outputPacks = Pack8.Of(output, (long)n * rowPacks);
        for (int row = group; row < n; row += groups)
        {
            var input = logitPacks.SubView((long)row * rowPacks, rowPacks);
            var target = outputPacks.SubView((long)row * rowPacks, rowPacks);
            float max = float.NegativeInfinity;
            for (int c = 0; c < rowPacks; c++)
                max = Pack8.Max(max, input[c]);
            float sum = 0.0f;
            for (int c = 0; c < rowPacks; c++)
                sum = Pack8.AccumulateExp(sum, input[c], max);
            float logSumExp = max + XMath.Log(sum);
            for (int c = 0; c < rowPacks; c++)
                target[c] = Pack8.Subtract(input[c], logSumExp);
        }
    }

    /// <summary>Log-softmax with V = TDims.Vocab folded in.</summary>
    public static void Forward<TDims>(ArrayView<float> logits, ArrayView<float> output, int n)
        where TDims : struct, IModelDims
        => Forward(logits, output, n, TDims.Vocab);

    /// <summary>Reference twin (double).</summary>
    public static void Reference(float[] logits, float[] output, int n, int v)
    {
        for (int row = 0; row < n; row++)
        {
            double logSumExp = RowStatistics.LogSumExpReference(logits, (long)row * v, v);
            for (int c = 0; c < v; c++)
                output[(long)row * v + c] = (float)(logits[(long)row * v + c] - logSumExp);
        }
    }
}
