using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>Residual update x += delta (after attention, FFN, MoE and extra FFN sublayers).</summary>
public static class ResidualAdd
{
    /// <summary>x [count] += delta [count], in place. Grid-stride over spans (see <see cref="ElementLoop"/>).</summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> delta, int count, int span)
    {
        for (long start = ElementLoop.Start(span); start < count; start += ElementLoop.Stride(span))
        {
            int length = (int)(start + span < count ? span : count - start);
            // Span sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var target = x.SubView(start, length);
            var source = delta.SubView(start, length);
            for (int i = 0; i < length; i++)
                target[i] += source[i];
        }
    }

    /// <summary>
    /// <see cref="Forward"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>);
    /// <paramref name="span"/> counts packs. Both views must start pack-aligned.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> x, ArrayView<float> delta, int count, int span)
    {
        int packs = count / Pack8.Width;
        var targets = Pack8.Of(x, packs);
        var sources = Pack8.Of(delta, packs);
        for (long start = ElementLoop.Start(span); start < packs; start += ElementLoop.Stride(span))
        {
            int length = (int)(start + span < packs ? span : packs - start);
            var target = targets.SubView(start, length);
            var source = sources.SubView(start, length);
            for (int i = 0; i < length; i++)
                target[i] = Pack8.Add(target[i], source[i]);
        }
        for (long i = ElementLoop.TailStart(packs); i < count; i += ElementLoop.Stride(1))
            x[i] += delta[i];
    }

    /// <summary>Reference twin.</summary>
    public static void Reference(float[] x, float[] delta, int count)
    {
        for (int i = 0; i < count; i++)
            x[i] += delta[i];
    }
}
