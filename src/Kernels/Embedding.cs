using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Token embedding lookup: output[i, :] = table[tokens[i], :].</summary>
public static class Embedding
{
    /// <summary>
    /// Grid-stride gather. tokens [N], table [V, D], output [N, D]. An id outside [0, V) writes a
    /// zero row: callers validate ids on the host first, this only keeps the kernel memory-safe.
    /// </summary>
    public static void Gather(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n, int d, int v)
    {
        long total = (long)n * d;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            int row = (int)(i / d);
            int col = (int)(i - (long)row * d);
            int token = tokens[row];
            output[i] = token >= 0 && token < v ? table[(long)token * d + col] : 0.0f;
        }
    }

    /// <summary>Gather with D = TDims.Hidden and V = TDims.Vocab folded in.</summary>
    public static void Gather<TDims>(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n)
        where TDims : struct, IModelDims
        => Gather(tokens, table, output, n, TDims.Hidden, TDims.Vocab);

    /// <summary>Reference twin of <see cref="Gather(ArrayView{int}, ArrayView{float}, ArrayView{float}, int, int, int)"/>.</summary>
    public static void Reference(int[] tokens, float[] table, float[] output, int n, int d, int v)
    {
        for (int row = 0; row < n; row++)
            for (int col = 0; col < d; col++)
                output[row * d + col] = tokens[row] >= 0 && tokens[row] < v ? table[(long)tokens[row] * d + col] : 0.0f;
    }
}
