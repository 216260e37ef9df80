using OpenMoE.Runtime.Threading;
using System.Numerics.Tensors;

namespace OpenMoE.Training;

/// <summary>
/// Global-norm gradient clipping over all parameters together, for one fixed set of gradient
/// tensors (scratch is made once, so a training step allocates nothing here).
/// </summary>
public sealed class GradientClipping
{
    private readonly float[][] _gradients;
    private readonly double[] _sums;
    private readonly Action<int> _sumSquares, _scale;
    private float _factor;

    /// <summary>Clips <paramref name="gradients"/> (the arrays are updated in place by <see cref="Clip"/>).</summary>
    public GradientClipping(float[][] gradients)
    {
        _gradients = gradients;
        _sums = new double[gradients.Length];
        _sumSquares = SumSquares;
        _scale = Scale;
    }

    /// <summary>The L2 norm of all gradients (double accumulation, fixed order).</summary>
    public double GlobalNorm()
    {
        // Per-tensor sums in parallel, added in tensor order: the same result on every run.
        HostParallelFor.Shared.For(_gradients.Length, _sumSquares);
        double total = 0;
        foreach (double sum in _sums)
            total += sum;
        return Math.Sqrt(total);
    }

    /// <summary>Scales all gradients by maxNorm / norm when the norm exceeds <paramref name="maxNorm"/> (> 0). Returns the norm before clipping.</summary>
    public double Clip(double maxNorm)
    {
        double norm = GlobalNorm();
        if (maxNorm > 0 && norm > maxNorm)
        {
            _factor = (float)(maxNorm / norm);
            HostParallelFor.Shared.For(_gradients.Length, _scale);
        }
        return norm;
    }

    private void SumSquares(int tensor)
    {
        var g = _gradients[tensor];
        double sum = 0;
        for (int i = 0; i < g.Length; i++)
            sum += (double)g[i] * g[i];
        _sums[tensor] = sum;
    }

    // Element-wise float products in SIMD: the same results as the scalar loop.
    private void Scale(int tensor) => TensorPrimitives.Multiply(_gradients[tensor], _factor, _gradients[tensor]);
}
