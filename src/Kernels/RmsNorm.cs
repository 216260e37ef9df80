using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>
/// T5-style RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w. No mean subtraction, no bias.
/// Also the final norm after the last decoder layer.
/// </summary>
public static class RmsNorm
{
    /// <summary>
    /// One thread group per row, grid-stride over rows. x [N, D], w [D], y [N, D] (y may alias x).
    /// </summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, int d, float eps)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxGroupSize);
        for (int row = group; row < n; row += groups)
        {
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var input = x.SubView((long)row * d, d);
            var output = y.SubView((long)row * d, d);
            float sumSquares = 0.0f;
            for (int c = lane; c < d; c += lanes)
            {
                float value = input[c];
                sumSquares += value * value;
            }
            float total = GroupReduce.Sum(sumSquares, scratch, lane, lanes);
            float scale = XMath.Rsqrt(total / d + eps);
            for (int c = lane; c < d; c += lanes)
                output[c] = input[c] * scale * w[c];
        }
    }

    /// <summary>
    /// <see cref="Forward(ArrayView{float}, ArrayView{float}, ArrayView{float}, int, int, float)"/> in packs of
    /// eight (the CPU accelerator's form, see <see cref="Pack8"/>) for one-thread row groups: D must
    /// be a multiple of 8 and all views must start pack-aligned. The sum of squares runs in element
    /// order, so results equal the scalar kernel's with one thread per row.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, int d, float eps)
    {
        int group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = d / Pack8.Width;
        var xPacks = Pack8.Of(x, (long)n * rowPacks);
        var yPacks = Pack8.Of(y, (long)n * rowPacks);
        var weights = Pack8.Of(w, rowPacks);
        for (int row = group; row < n; row += groups)
        {
            var input = xPacks.SubView((long)row * rowPacks, rowPacks);
            var output = yPacks.SubView((long)row * rowPacks, rowPacks);
            float sumSquares = 0.0f;
            for (int c = 0; c < rowPacks; c++)
                sumSquares = Pack8.AccumulateSquares(sumSquares, input[c]);
            float scale = XMath.Rsqrt(sumSquares / d + eps);
            for (int c = 0; c < rowPacks; c++)
                output[c] = Pack8.ScaleMultiply(input[c], scale, weights[c]);
        }
    }

    /// <summary>Forward with D = TDims.Hidden folded in.</summary>
    public static void Forward<TDims>(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps)
        where TDims : struct, IModelDims
        => Forward(x, w, y, n, TDims.Hidden, eps);

    /// <summary>ForwardPacked with D = TDims.Hidden folded in.</summary>
    public static void ForwardPacked<TDims>(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps)
        where TDims : struct, IModelDims
        => ForwardPacked(x, w, y, n, TDims.Hidden, eps);

    /// <summary>Reference twin (double accumulation).</summary>
    public static void Reference(float[] x, float[] w, float[] y, int n, int d, float eps)
    {
        for (int row = 0; row < n; row++)
        {
            double sumSquares = 0;
            for (int c = 0; c < d; c++)
                sumSquares += (double)x[row * d + c] * x[row * d + c];
            double scale = 1.0 / Math.Sqrt(sumSquares / d + eps);
            for (int c = 0; c < d; c++)
                y[row * d + c] = (float)(x[row * d + c] * scale * w[c]);
        }
    }
}
