using OpenMoE.Runtime.Threading;
using System.Numerics;

namespace OpenMoE.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter): bias-corrected first and second moments and decoupled weight
/// decay <c>w -= lr * decay * w</c>, applied to matrices only (norm weights are not decayed).
/// State is made once, so a step allocates nothing.
/// </summary>
public sealed class AdamW : IOptimizer
{
    private readonly double _beta1, _beta2, _epsilon, _weightDecay;
    private readonly Dictionary<string, float[]> _state = new(StringComparer.Ordinal);
    private readonly float[][] _m, _v;
    private readonly Action<int> _update;
    private HostParameters? _parameters;
    private double _correction1, _correction2, _learningRate;

    /// <summary>Creates zero moments for <paramref name="parameters"/>.</summary>
    public AdamW(HostParameters parameters, double beta1 = 0.9, double beta2 = 0.95, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        (_beta1, _beta2, _epsilon, _weightDecay) = (beta1, beta2, epsilon, weightDecay);
        _m = new float[parameters.Infos.Length][];
        _v = new float[parameters.Infos.Length][];
        for (int i = 0; i < parameters.Infos.Length; i++)
        {
            var p = parameters.Infos[i];
            _state["m/" + p.Name] = _m[i] = new float[p.Elements];
            _state["v/" + p.Name] = _v[i] = new float[p.Elements];
        }
        _update = UpdateTensor;
    }

    /// <inheritdoc />
    public string Name => "adamw";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, float[]> State => _state;

    /// <inheritdoc />
    public void Restore(IReadOnlyDictionary<string, float[]> state)
    {
        foreach (var (name, target) in _state)
        {
            if (!state.TryGetValue(name, out var source) || source.Length != target.Length)
                throw new InvalidDataException($"AdamW state '{name}' is missing or has the wrong size in the checkpoint.");
            source.CopyTo(target, 0);
        }
    }

    /// <inheritdoc />
    public void Step(HostParameters parameters, long step, double learningRate)
    {
        _correction1 = 1 - Math.Pow(_beta1, step);
        _correction2 = 1 - Math.Pow(_beta2, step);
        _learningRate = learningRate;
        _parameters = parameters;
        // Tensors are independent: updating them in parallel keeps every result bit-identical.
        try
        {
            HostParallelFor.Shared.For(parameters.Infos.Length, _update);
        }
        finally
        {
            _parameters = null;
        }
    }

    private void UpdateTensor(int i)
    {
        var info = _parameters!.Infos[i];
        var w = _parameters.Values[i];
        var g = _parameters.Gradients[i];
        var m = _m[i];
        var v = _v[i];
        double decay = info.Shape.Length >= 2 ? _weightDecay : 0;
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // The same double operations per lane as the scalar loop below (bit-identical results).
            for (; j <= w.Length - Vector<float>.Count; j += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(g.AsSpan(j)), out var gLow, out var gHigh);
                Vector.Widen(new Vector<float>(m.AsSpan(j)), out var mLow, out var mHigh);
                Vector.Widen(new Vector<float>(v.AsSpan(j)), out var vLow, out var vHigh);
                Vector.Widen(new Vector<float>(w.AsSpan(j)), out var wLow, out var wHigh);
                var (m1, v1, w1) = Update(gLow, mLow, vLow, wLow, decay);
                var (m2, v2, w2) = Update(gHigh, mHigh, vHigh, wHigh, decay);
                Vector.Narrow(m1, m2).CopyTo(m.AsSpan(j));
                Vector.Narrow(v1, v2).CopyTo(v.AsSpan(j));
                Vector.Narrow(w1, w2).CopyTo(w.AsSpan(j));
            }
        }
        for (; j < w.Length; j++)
        {
            double grad = g[j];
            double mj = _beta1 * m[j] + (1 - _beta1) * grad;
            double vj = _beta2 * v[j] + (1 - _beta2) * grad * grad;
            m[j] = (float)mj;
            v[j] = (float)vj;
            double update = mj / _correction1 / (Math.Sqrt(vj / _correction2) + _epsilon);
            w[j] = (float)(w[j] - _learningRate * (update + decay * w[j]));
        }
    }

    /// <summary>One SIMD lane group of the update: new m, v (before rounding to float) and w.</summary>
    private (Vector<double> M, Vector<double> V, Vector<double> W) Update(
        Vector<double> grad, Vector<double> m, Vector<double> v, Vector<double> w, double decay)
    {
        var mj = new Vector<double>(_beta1) * m + new Vector<double>(1 - _beta1) * grad;
        var vj = new Vector<double>(_beta2) * v + new Vector<double>(1 - _beta2) * grad * grad;
        var update = mj / new Vector<double>(_correction1) / (Vector.SquareRoot(vj / new Vector<double>(_correction2)) + new Vector<double>(_epsilon));
        var newW = w - new Vector<double>(_learningRate) * (update + new Vector<double>(decay) * w);
        return (mj, vj, newW);
    }
}
