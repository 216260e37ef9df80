using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Residual update x += delta (after attention, FFN, MoE and extra FFN sublayers).</summary>
public static class ResidualAdd
{
    /// <summary>x [count] += delta [count], in place. Grid-stride.</summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> delta, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            x[i] += delta[i];
    }

    /// <summary>Reference twin.</summary>
    public static void Reference(float[] x, float[] delta, int count)
    {
        for (int i = 0; i < count; i++)
            x[i] += delta[i];
    }
}
