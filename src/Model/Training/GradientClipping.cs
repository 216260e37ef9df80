namespace OpenMoE.Model.Training;

/// <summary>Global-norm gradient clipping over all parameters together.</summary>
public static class GradientClipping
{
    /// <summary>The L2 norm of all gradients (double accumulation, fixed order).</summary>
    public static double GlobalNorm(float[][] gradients)
    {
        // Per-tensor sums in parallel, added in tensor order: the same result on every run.
        var sums = new double[gradients.Length];
        Parallel.For(0, gradients.Length, t =>
        {
            var g = gradients[t];
            double sum = 0;
            for (int i = 0; i < g.Length; i++)
                sum += (double)g[i] * g[i];
            sums[t] = sum;
        });
        return Math.Sqrt(sums.Sum());
    }

    /// <summary>Scales all gradients by maxNorm / norm when the norm exceeds <paramref name="maxNorm"/> (> 0). Returns the norm before clipping.</summary>
    public static double Clip(float[][] gradients, double maxNorm)
    {
        double norm = GlobalNorm(gradients);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / norm);
            Parallel.ForEach(gradients, g =>
            {
                for (int i = 0; i < g.Length; i++)
                    g[i] *= scale;
            });
        }
        return norm;
    }
}
