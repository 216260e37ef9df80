using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Standard SwiGLU activation (Mixtral, DeepSeekMoE): h = silu(gate) * up.</summary>
public static class SwiGlu
{
    /// <summary>gate [count], up [count], h [count] (h may alias either). Grid-stride.</summary>
    public static void Forward(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int count)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < count; i += stride)
            h[i] = Activations.Silu(gate[i]) * up[i];
    }

    /// <summary>Reference twin (double).</summary>
    public static void Reference(float[] gate, float[] up, float[] h, int count)
    {
        for (int i = 0; i < count; i++)
            h[i] = (float)(Activations.SiluReference(gate[i]) * up[i]);
    }
}
