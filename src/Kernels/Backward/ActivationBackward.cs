using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels.Backward;

/// <summary>
/// Backward of the FFN activations. silu'(z) = s * (1 + z * (1 - s)) with s = sigmoid(z).
/// OpenMoE gated: h = x1 * silu(x2) * u with g = [x1, x2]; SwiGLU: h = silu(a) * b.
/// </summary>
public static class ActivationBackward
{
    /// <summary>
    /// OpenMoE gated: g [N, 2F], u [N, F], dh [N, F] -> dg [N, 2F], du [N, F] (overwritten).
    /// One thread group per row, grid-stride over rows.
    /// </summary>
    public static void OpenMoeGated(ArrayView<float> g, ArrayView<float> u, ArrayView<float> dh, ArrayView<float> dg, ArrayView<float> du, int n, int f)
    {
        int lane = Group.IdxX, lanes = Group.DimX, group = Grid.IdxX, groups = Grid.DimX;
        for (int row = group; row < n; row += groups)
        {
            var x1 = g.SubView(2L * row * f, f);
            var x2 = g.SubView(2L * row * f + f, f);
            var dx1 = dg.SubView(2L * row * f, f);
            var dx2 = dg.SubView(2L * row * f + f, f);
            var up = u.SubView((long)row * f, f);
            var gradUp = du.SubView((long)row * f, f);
            var gradH = dh.SubView((long)row * f, f);
            for (int c = lane; c < f; c += lanes)
            {
                float z = x2[c];
                float s = 1.0f / (1.0f + XMath.Exp(-z));
                float silu = z * s;
                float grad = gradH[c];
                dx1[c] = grad * silu * up[c];
                dx2[c] = grad * x1[c] * up[c] * s * (1.0f + z * (1.0f - s));
                gradUp[c] = grad * x1[c] * silu;
            }
        }
    }

    /// <summary>SwiGLU: a, b, dh [count] -> da, db [count] (overwritten). Grid-stride over elements.</summary>
    public static void SwiGlu(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dh, ArrayView<float> da, ArrayView<float> db, int count)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < count; i += stride)
        {
            float z = a[i];
            float s = 1.0f / (1.0f + XMath.Exp(-z));
            float grad = dh[i];
            da[i] = grad * b[i] * s * (1.0f + z * (1.0f - s));
            db[i] = grad * z * s;
        }
    }

    /// <summary>Reference twin of <see cref="OpenMoeGated"/> (double).</summary>
    public static void OpenMoeGatedReference(float[] g, float[] u, float[] dh, float[] dg, float[] du, int n, int f)
    {
        for (int row = 0; row < n; row++)
            for (int c = 0; c < f; c++)
            {
                double x1 = g[2 * row * f + c], z = g[2 * row * f + f + c], up = u[row * f + c], grad = dh[row * f + c];
                double s = 1.0 / (1.0 + Math.Exp(-z));
                dg[2 * row * f + c] = (float)(grad * z * s * up);
                dg[2 * row * f + f + c] = (float)(grad * x1 * up * s * (1 + z * (1 - s)));
                du[row * f + c] = (float)(grad * x1 * z * s);
            }
    }

    /// <summary>Reference twin of <see cref="SwiGlu"/> (double).</summary>
    public static void SwiGluReference(float[] a, float[] b, float[] dh, float[] da, float[] db, int count)
    {
        for (int i = 0; i < count; i++)
        {
            double z = a[i], s = 1.0 / (1.0 + Math.Exp(-z));
            da[i] = (float)(dh[i] * b[i] * s * (1 + z * (1 - s)));
            db[i] = (float)(dh[i] * z * s);
        }
    }
}
