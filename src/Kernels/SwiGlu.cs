using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Standard SwiGLU activation (Mixtral, DeepSeekMoE): h = silu(gate) * up.</summary>
public static class SwiGlu
{
    /// <summary>gate [count], up [count], h [count] (h may alias either). Grid-stride over spans (see <see cref="ElementLoop"/>).</summary>
    public static void Forward(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int count, int span)
    {
        for (long start = ElementLoop.Start(span); start < count; start += ElementLoop.Stride(span))
        {
            int length = (int)(start + span < count ? span : count - start);
            // Span sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var gates = gate.SubView(start, length);
            var ups = up.SubView(start, length);
            var target = h.SubView(start, length);
            for (int i = 0; i < length; i++)
                target[i] = Activations.Silu(gates[i]) * ups[i];
        }
    }

    /// <summary>Reference twin (double).</summary>
    public static void Reference(float[] gate, float[] up, float[] h, int count)
    {
        for (int i = 0; i < count; i++)
            h[i] = (float)(Activations.SiluReference(gate[i]) * up[i]);
    }
}
