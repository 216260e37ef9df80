using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>Per-row statistics shared by the softmax-family kernels.</summary>
public static class RowStatistics
{
    /// <summary>logsumexp of row [v], computed by the whole group (max-shifted).</summary>
    internal static float LogSumExp(ArrayView<float> row, int v, ArrayView<float> scratch, int lane, int lanes)
    {
        float localMax = float.NegativeInfinity;
        for (int c = lane; c < v; c += lanes)
            localMax = XMath.Max(localMax, row[c]);
        float max = GroupReduce.Max(localMax, scratch, lane, lanes);
        float localSum = 0.0f;
        for (int c = lane; c < v; c += lanes)
            localSum += XMath.Exp(row[c] - max);
        return max + XMath.Log(GroupReduce.Sum(localSum, scratch, lane, lanes));
    }

    /// <summary>Reference logsumexp in double.</summary>
    public static double LogSumExpReference(float[] values, long offset, int v)
    {
        double max = double.NegativeInfinity;
        for (int c = 0; c < v; c++)
            max = Math.Max(max, values[offset + c]);
        double sum = 0;
        for (int c = 0; c < v; c++)
            sum += Math.Exp(values[offset + c] - max);
        return max + Math.Log(sum);
    }
}
