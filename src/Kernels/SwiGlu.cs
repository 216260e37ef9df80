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

    /// <summary>
    /// <see cref="Forward"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>);
    /// <paramref name="span"/> counts packs. All views must start pack-aligned.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int count, int span)
    {
        int packs = count / Pack8.Width;
        var gatePacks = Pack8.Of(gate, packs);
        var upPacks = Pack8.Of(up, packs);
        var targetPacks = Pack8.Of(h, packs);
        for (long start = ElementLoop.Start(span); start < packs; start += ElementLoop.Stride(span))
        {
            int length = (int)(start + span < packs ? span : packs - start);
            var gates = gatePacks.SubView(start, length);
            var ups = upPacks.SubView(start, length);
            var target = targetPacks.SubView(start, length);
            for (int i = 0; i < length; i++)
                target[i] = Pack8.Multiply(Pack8.Silu(gates[i]), ups[i]);
        }
        for (long i = ElementLoop.TailStart(packs); i < count; i += ElementLoop.Stride(1))
            h[i] = Activations.Silu(gate[i]) * up[i];
    }

    /// <summary>Reference twin (double).</summary>
    public static void Reference(float[] gate, float[] up, float[] h, int count)
    {
        for (int i = 0; i < count; i++)
            h[i] = (float)(Activations.SiluReference(gate[i]) * up[i]);
    }
}
