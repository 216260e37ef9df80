using ILGPU;

namespace OpenMoE.Kernels.Optimizers;

/// <summary>Gradient clipping's rescale, g *= factor in float (the factor maxNorm / norm is computed once, on the host).</summary>
public static class GradientScale
{
    /// <summary>g [length] *= factor. Grid-stride over spans (see <see cref="ElementLoop"/>).</summary>
    public static void Kernel(ArrayView<float> g, long length, float factor, int span)
    {
        for (long start = ElementLoop.Start(span); start < length; start += ElementLoop.Stride(span))
        {
            long end = start + span < length ? start + span : length;
            for (long j = start; j < end; j++)
                g[j] *= factor;
        }
    }

    /// <summary>Reference twin.</summary>
    public static void Reference(Span<float> g, float factor)
    {
        for (int j = 0; j < g.Length; j++)
            g[j] *= factor;
    }
}
