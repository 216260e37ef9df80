namespace OpenMoE.Model.Training;

/// <summary>Global-norm gradient clipping over all parameters together.</summary>
public static class GradientClipping
{
    /// <summary>The L2 norm of all gradients (double accumulation, fixed order).</summary>
    public static double GlobalNorm(float[][] gradients)
    {
        double sum = 0;
        foreach (var g in gradients)
            for (int i = 0; i < g.Length; i++)
                sum += (double)g[i] * g[i];
        return Math.Sqrt(sum);
    }

    /// <summary>Scales all gradients by maxNorm / norm when the norm exceeds <paramref name="maxNorm"/> (> 0). Returns the norm before clipping.</summary>
    public static double Clip(float[][] gradients, double maxNorm)
    {
        double norm = GlobalNorm(gradients);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / norm);
            foreach (var g in gradients)
                for (int i = 0; i < g.Length; i++)
                    g[i] *= scale;
        }
        return norm;
    }
}
