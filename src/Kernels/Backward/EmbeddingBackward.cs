using ILGPU;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of <see cref="Embedding"/>: dTable[v] += sum of dx rows of the tokens with id v.
/// Race-free and deterministic without atomics: the host groups token positions by id
/// (a counting sort, O(N)), and each logical thread owns whole vocabulary rows.
/// </summary>
public static class EmbeddingBackward
{
    /// <summary>
    /// ids [U] distinct token ids; starts [U + 1] their ranges in positions [N] (positions of each id in
    /// ascending order); dx [N, D]; dTable [V, D] (+=). Grid-stride over the U ids, then over D.
    /// </summary>
    public static void Scatter(ArrayView<int> ids, ArrayView<int> starts, ArrayView<int> positions, ArrayView<float> dx,
        ArrayView<float> dTable, int distinct, int d)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int u = group; u < distinct; u += groups)
        {
            var target = dTable.SubView((long)ids[u] * d, d);
            int end = starts[u + 1];
            for (int c = lane; c < d; c += lanes)
            {
                float acc = target[c];
                for (int i = starts[u]; i < end; i++)
                    acc += dx[(long)positions[i] * d + c];
                target[c] = acc;
            }
        }
    }

    /// <summary>
    /// Host half: groups the positions of <paramref name="tokens"/> by id. Returns the number of distinct
    /// ids U; fills ids [U], starts [U + 1], positions [N]. counts [V] is scratch. Allocation-free.
    /// </summary>
    public static int GroupByToken(ReadOnlySpan<int> tokens, Span<int> counts, Span<int> ids, Span<int> starts, Span<int> positions)
    {
        counts.Clear();
        foreach (int token in tokens)
            counts[token]++;
        int distinct = 0, offset = 0;
        for (int v = 0; v < counts.Length; v++)
        {
            if (counts[v] == 0)
                continue;
            ids[distinct] = v;
            starts[distinct] = offset;
            int count = counts[v];
            counts[v] = offset;
            offset += count;
            distinct++;
        }
        starts[distinct] = offset;
        for (int n = 0; n < tokens.Length; n++)
            positions[counts[tokens[n]]++] = n;
        return distinct;
    }

    /// <summary>Reference twin (double): dTable [V, D] += scatter of dx [N, D] by tokens [N].</summary>
    public static void Reference(int[] tokens, float[] dx, float[] dTable, int d)
    {
        var acc = new double[dTable.Length];
        for (int i = 0; i < acc.Length; i++) acc[i] = dTable[i];
        for (int n = 0; n < tokens.Length; n++)
            for (int c = 0; c < d; c++)
                acc[(long)tokens[n] * d + c] += dx[(long)n * d + c];
        for (int i = 0; i < acc.Length; i++) dTable[i] = (float)acc[i];
    }
}
