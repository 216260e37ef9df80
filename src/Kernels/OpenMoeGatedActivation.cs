using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// OpenMoE's FFN activation (dense, extra and expert FFNs): with g = x·Wg of width 2F and
/// u = x·Wup of width F, h = g[:F] * silu(g[F:]) * u.
/// </summary>
public static class OpenMoeGatedActivation
{
    /// <summary>g [N, 2F], u [N, F], h [N, F] (h may alias u). One thread group per row, grid-stride over rows.</summary>
    public static void Forward(ArrayView<float> g, ArrayView<float> u, ArrayView<float> h, int n, int f)
    {
        // Hoisted: on the CPU accelerator these are thread-static reads, too slow for inner loops.
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int row = group; row < n; row += groups)
        {
            // Row sub-views with int indices: markedly faster than long offsets on the CPU accelerator.
            var x1 = g.SubView(2L * row * f, f);
            var x2 = g.SubView(2L * row * f + f, f);
            var up = u.SubView((long)row * f, f);
            var target = h.SubView((long)row * f, f);
            for (int c = lane; c < f; c += lanes)
                target[c] = x1[c] * Activations.Silu(x2[c]) * up[c];
        }
    }

    /// <summary>
    /// <see cref="Forward"/> in packs of eight (the CPU accelerator's form, see <see cref="Pack8"/>):
    /// F must be a multiple of 8 and all views must start pack-aligned.
    /// </summary>
    public static void ForwardPacked(ArrayView<float> g, ArrayView<float> u, ArrayView<float> h, int n, int f)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        int rowPacks = f / Pack8.Width;
        var gPacks = Pack8.Of(g, 2L * n * rowPacks);
        var uPacks = Pack8.Of(u, (long)n * rowPacks);
        var hPacks = Pack8.Of(h, (long)n * rowPacks);
        for (int row = group; row < n; row += groups)
        {
            var x1 = gPacks.SubView(2L * row * rowPacks, rowPacks);
            var x2 = gPacks.SubView(2L * row * rowPacks + rowPacks, rowPacks);
            var up = uPacks.SubView((long)row * rowPacks, rowPacks);
            var target = hPacks.SubView((long)row * rowPacks, rowPacks);
            for (int c = lane; c < rowPacks; c += lanes)
                target[c] = Pack8.Multiply(Pack8.Multiply(x1[c], Pack8.Silu(x2[c])), up[c]);
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
