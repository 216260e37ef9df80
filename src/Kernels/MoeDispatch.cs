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
    /// zeros); expertInput [E*C, D]. Grid-stride over E*C*D.
    /// </summary>
    public static void Gather(ArrayView<float> x, ArrayView<int> slotTokens, ArrayView<float> expertInput, int slots, int d)
    {
        long total = (long)slots * d;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            int slot = (int)(i / d);
            int col = (int)(i - (long)slot * d);
            int token = slotTokens[slot];
            expertInput[i] = token >= 0 ? x[(long)token * d + col] : 0.0f;
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
