using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// MoE combine: each token gathers its kept expert outputs, weighted, back into its row.
/// A gather per token (not a scatter with atomics), so the sum order is fixed and the result
/// is deterministic on every device.
/// </summary>
public static class MoeCombine
{
    /// <summary>
    /// expertOutput [E*C, D]; tokenRows [N, K] = buffer row e*C + s of the token's j-th choice,
    /// or -1 if that choice was dropped; tokenWeights [N, K] (raw router probabilities for
    /// OpenMoE); output [N, D] is overwritten with sum_j w[t, j] * expertOutput[row[t, j]] (zero
    /// for a token that lost every choice). One thread group per token row, grid-stride over rows;
    /// the K terms add in order j = 0..K-1.
    /// </summary>
    public static void Combine(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> output, int n, int k, int d)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int token = group; token < n; token += groups)
        {
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            CombineRow(expertOutput, tokenRows, tokenWeights, output.SubView((long)token * d, d), token, k, d, lane, lanes);
        }
    }

    /// <summary>
    /// One token's row of <see cref="Combine"/> into <paramref name="target"/> [D], this lane's columns
    /// (internal: the fused combine-and-norm shares it; kernel discovery skips it).
    /// </summary>
    internal static void CombineRow(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> target, int token, int k, int d, int lane, int lanes)
    {
        for (int c = lane; c < d; c += lanes)
            target[c] = 0.0f;
        for (int j = 0; j < k; j++)
        {
            int row = tokenRows[token * k + j];
            if (row < 0)
                continue;
            float weight = tokenWeights[token * k + j];
            var source = expertOutput.SubView((long)row * d, d);
            for (int c = lane; c < d; c += lanes)
                target[c] += weight * source[c];
        }
    }

    /// <summary>
    /// <see cref="Combine"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>):
    /// D must be a multiple of 8 and the float views must start pack-aligned.
    /// </summary>
    public static void CombinePacked(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> output, int n, int k, int d)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = d / Pack8.Width;
        var sourcePacks = Pack8.Of(expertOutput, expertOutput.Length / Pack8.Width);
        var outputPacks = Pack8.Of(output, (long)n * rowPacks);
        for (int token = group; token < n; token += groups)
            CombineRowPacked(sourcePacks, tokenRows, tokenWeights, outputPacks.SubView((long)token * rowPacks, rowPacks), token, k, rowPacks, lane, lanes);
    }

    /// <summary>One token's row of <see cref="CombinePacked"/> into <paramref name="target"/> [D/8 packs], this lane's packs (shared like <see cref="CombineRow"/>).</summary>
    internal static void CombineRowPacked(ArrayView<Pack8> sourcePacks, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<Pack8> target, int token, int k, int rowPacks, int lane, int lanes)
    {
        for (int c = lane; c < rowPacks; c += lanes)
            target[c] = default;
        for (int j = 0; j < k; j++)
        {
            int row = tokenRows[token * k + j];
            if (row < 0)
                continue;
            float weight = tokenWeights[token * k + j];
            var source = sourcePacks.SubView((long)row * rowPacks, rowPacks);
            for (int c = lane; c < rowPacks; c += lanes)
                target[c] = Pack8.AddScaled(target[c], weight, source[c]);
        }
    }

    /// <summary>Reference twin (double accumulation).</summary>
    public static void Reference(float[] expertOutput, int[] tokenRows, float[] tokenWeights, float[] output, int n, int k, int d)
    {
        for (int token = 0; token < n; token++)
            for (int col = 0; col < d; col++)
            {
                double acc = 0;
                for (int j = 0; j < k; j++)
                {
                    int row = tokenRows[token * k + j];
                    if (row >= 0)
                        acc += (double)tokenWeights[token * k + j] * expertOutput[(long)row * d + col];
                }
                output[(long)token * d + col] = (float)acc;
            }
    }
}
