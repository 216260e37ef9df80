using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Token embedding lookup: output[i, :] = table[tokens[i], :].</summary>
public static class Embedding
{
    /// <summary>
    /// tokens [N], table [V, D], output [N, D]; one thread group per row, grid-stride over rows.
    /// An id outside [0, V) writes a zero row: callers validate ids on the host first, this only
    /// keeps the kernel memory-safe.
    /// </summary>
    public static void Gather(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n, int d, int v)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int row = group; row < n; row += groups)
        {
            int token = tokens[row];
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var target = output.SubView((long)row * d, d);
            if (token >= 0 && token < v)
            {
                var source = table.SubView((long)token * d, d);
                for (int c = lane; c < d; c += lanes)
                    target[c] = source[c];
            }
            else
            {
                for (int c = lane; c < d; c += lanes)
                    target[c] = 0.0f;
            }
        }
    }

    /// <summary>
    /// <see cref="Gather(ArrayView{int}, ArrayView{float}, ArrayView{float}, int, int, int)"/> in packs of eight
    /// (the CPU accelerator's form, see <see cref="Pack8"/>): D must be a multiple of 8 and the
    /// float views must start pack-aligned.
    /// </summary>
    public static void GatherPacked(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n, int d, int v)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = d / Pack8.Width;
        var tablePacks = Pack8.Of(table, (long)v * rowPacks);
        var outputPacks = Pack8.Of(output, (long)n * rowPacks);
        for (int row = group; row < n; row += groups)
        {
            int token = tokens[row];
            var target = outputPacks.SubView((long)row * rowPacks, rowPacks);
            if (token >= 0 && token < v)
            {
                var source = tablePacks.SubView((long)token * rowPacks, rowPacks);
                for (int c = lane; c < rowPacks; c += lanes)
                    target[c] = source[c];
            }
            else
            {
                for (int c = lane; c < rowPacks; c += lanes)
                    target[c] = default;
            }
        }
    }

    /// <summary>Gather with D = TDims.Hidden and V = TDims.Vocab folded in.</summary>
    public static void Gather<TDims>(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n)
        where TDims : struct, IModelDims
        => Gather(tokens, table, output, n, TDims.Hidden, TDims.Vocab);

    /// <summary>GatherPacked with D and V from <typeparamref name="TDims"/>.</summary>
    public static void GatherPacked<TDims>(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n)
        where TDims : struct, IModelDims
        => GatherPacked(tokens, table, output, n, TDims.Hidden, TDims.Vocab);

    /// <summary>Reference twin of <see cref="Gather(ArrayView{int}, ArrayView{float}, ArrayView{float}, int, int, int)"/>.</summary>
    public static void Reference(int[] tokens, float[] table, float[] output, int n, int d, int v)
    {
        for (int row = 0; row < n; row++)
            for (int col = 0; col < d; col++)
                output[row * d + col] = tokens[row] >= 0 && tokens[row] < v ? table[(long)tokens[row] * d + col] : 0.0f;
    }
}
