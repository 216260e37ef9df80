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

    /// <summary>
    /// <see cref="Gather"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>):
    /// D must be a multiple of 8 and the float views must start pack-aligned.
    /// </summary>
    public static void GatherPacked(ArrayView<float> x, ArrayView<int> slotTokens, ArrayView<float> expertInput, int slots, int d)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = d / Pack8.Width;
        var sourcePacks = Pack8.Of(x, x.Length / Pack8.Width);
        var targetPacks = Pack8.Of(expertInput, (long)slots * rowPacks);
        for (int slot = group; slot < slots; slot += groups)
        {
            int token = slotTokens[slot];
            var target = targetPacks.SubView((long)slot * rowPacks, rowPacks);
            if (token >= 0)
            {
                var source = sourcePacks.SubView((long)token * rowPacks, rowPacks);
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

    /// <summary>Reference twin.</summary>
    public static void Reference(float[] x, int[] slotTokens, float[] expertInput, int slots, int d)
    {
        for (int slot = 0; slot < slots; slot++)
            for (int col = 0; col < d; col++)
                expertInput[(long)slot * d + col] = slotTokens[slot] >= 0 ? x[(long)slotTokens[slot] * d + col] : 0.0f;
    }
}
