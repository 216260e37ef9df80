using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>Row-wise log-softmax over the vocabulary: y = x - logsumexp(x).</summary>
public static class LogSoftmax
{
    /// <summary>logits [N, V], output [N, V] (may alias logits). One thread group per row, grid-stride over rows.</summary>
    public static void Forward(ArrayView<float> logits, ArrayView<float> output, int n, int v)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = Grid.IdxX; row < n; row += Grid.DimX)
        {
            long offset = (long)row * v;
            float logSumExp = RowStatistics.LogSumExp(logits, offset, v, scratch);
            for (int c = Group.IdxX; c < v; c += Group.DimX)
                output[offset + c] = logits[offset + c] - logSumExp;
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
