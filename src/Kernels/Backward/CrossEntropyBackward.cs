using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of the mean token cross-entropy (<see cref="CrossEntropy"/>): on a target row,
/// dLogits = (softmax(logits) - onehot(target)) * scale with scale = 1 / (number of targets);
/// rows that are not targets (target -1) get 0.
/// </summary>
public static class CrossEntropyBackward
{
    /// <summary>logits [N, V], targets [N], rowLogSumExp [N] from the forward; dLogits [N, V] (may alias logits). One thread group per row.</summary>
    public static void Logits(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLogSumExp, ArrayView<float> dLogits,
        int n, int v, float scale)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int row = group; row < n; row += groups)
        {
            var input = logits.SubView((long)row * v, v);
            var output = dLogits.SubView((long)row * v, v);
            int target = targets[row];
            bool counted = target >= 0 && target < v;
            float lse = rowLogSumExp[row];
            for (int c = lane; c < v; c += lanes)
            {
                float grad = counted ? XMath.Exp(input[c] - lse) * scale : 0.0f;
                output[c] = c == target ? grad - scale : grad;
            }
        }
    }

    /// <summary>Reference twin (double softmax).</summary>
    public static void Reference(float[] logits, int[] targets, float[] dLogits, int n, int v, float scale)
    {
        for (int row = 0; row < n; row++)
        {
            int target = targets[row];
            bool counted = target >= 0 && target < v;
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < v; c++) max = Math.Max(max, logits[row * v + c]);
            for (int c = 0; c < v; c++) sum += Math.Exp(logits[row * v + c] - max);
            for (int c = 0; c < v; c++)
            {
                double grad = counted ? Math.Exp(logits[row * v + c] - max) / sum * scale : 0;
                dLogits[row * v + c] = (float)(c == target ? grad - scale : grad);
            }
        }
    }
}
