using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// MoE dispatch: gathers each expert's tokens into one contiguous buffer so every expert's
/// FFN runs as plain GEMMs on its own slice. Row r = e*C + s of the buffer is expert e's slot s.
/// </summary>
public static class MoeDispatch
{
    /// <summary>
    /// x [N, D]; slotTokens [E*C] = token index of each slot, or -1 for an empty slot (written as
    /// zeros); expertInput [E*C, D]. One thread group per slot row, grid-stride over rows.
    /// </summary>
    public static void Gather(ArrayView<float> x, ArrayView<int> slotTokens, ArrayView<float> expertInput, int slots, int d)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int slot = group; slot < slots; slot += groups)
        {
            int token = slotTokens[slot];
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var target = expertInput.SubView((long)slot * d, d);
            if (token >= 0)
            {
                var source = x.SubView((long)token * d, d);
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

    /// <summary>Reference twin.</summary>
    public static void Reference(float[] x, int[] slotTokens, float[] expertInput, int slots, int d)
    {
        for (int slot = 0; slot < slots; slot++)
            for (int col = 0; col < d; col++)
                expertInput[(long)slot * d + col] = slotTokens[slot] >= 0 ? x[(long)slotTokens[slot] * d + col] : 0.0f;
    }
}
