using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// OpenMoE's FFN activation (dense, extra and expert FFNs): with g = x·Wg of width 2F and
/// u = x·Wup of width F, h = g[:F] * silu(g[F:]) * u.
/// </summary>
public static class OpenMoeGatedActivation
{
    /// <summary>g [N, 2F], u [N, F], h [N, F] (h may alias u). Grid-stride over N*F.</summary>
    public static void Forward(ArrayView<float> g, ArrayView<float> u, ArrayView<float> h, int n, int f)
    {
        long total = (long)n * f;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            long row = i / f;
            long gate = i + row * f;
            h[i] = g[gate] * Activations.Silu(g[gate + f]) * u[i];
        }
    }

    /// <summary>Reference twin (double).</summary>
    public static void Reference(float[] g, float[] u, float[] h, int n, int f)
    {
        for (int row = 0; row < n; row++)
            for (int c = 0; c < f; c++)
            {
                double x1 = g[(long)row * 2 * f + c], x2 = g[(long)row * 2 * f + f + c];
                h[(long)row * f + c] = (float)(x1 * Activations.SiluReference(x2) * u[(long)row * f + c]);
            }
    }
}
