namespace OpenMoE.Tests.Routing;

/// <summary>
/// OpenMoE's FFN (DESIGN §2.1), double: g = x·Wg (width 2F), h = g[:F] * silu(g[F:]) * (x·Wup),
/// out = h·Wdown. // wg [D, 2F], wup [D, F], wdown [F, D]
/// </summary>
public sealed record GatedFfnReference(int D, int F, double[] Wg, double[] Wup, double[] Wdown)
{
    public static GatedFfnReference Random(int d, int f, Random random)
    {
        double[] Fill(int n) => Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
        return new GatedFfnReference(d, f, Fill(d * 2 * f), Fill(d * f), Fill(f * d));
    }

    /// <summary>One token. // [D] -> [D]</summary>
    public double[] Apply(double[] x)
    {
        var h = new double[F];
        for (int i = 0; i < F; i++)
        {
            double x1 = 0, x2 = 0, up = 0;
            for (int j = 0; j < D; j++)
            {
                x1 += x[j] * Wg[j * 2 * F + i];
                x2 += x[j] * Wg[j * 2 * F + F + i];
                up += x[j] * Wup[j * F + i];
            }
            h[i] = x1 * (x2 / (1 + Math.Exp(-x2))) * up;
        }
        var y = new double[D];
        for (int j = 0; j < D; j++)
            for (int i = 0; i < F; i++)
                y[j] += h[i] * Wdown[i * D + j];
        return y;
    }
}
