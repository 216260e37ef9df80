namespace OpenMoE.Model.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter): bias-corrected first and second moments and decoupled weight
/// decay <c>w -= lr * decay * w</c>, applied to matrices only (norm weights are not decayed).
/// </summary>
public sealed class AdamW(HostParameters parameters, double beta1 = 0.9, double beta2 = 0.95, double epsilon = 1e-8, double weightDecay = 0.01) : IOptimizer
{
    private readonly Dictionary<string, float[]> _state = parameters.Infos
        .SelectMany(p => new[] { ("m/" + p.Name, new float[p.Elements]), ("v/" + p.Name, new float[p.Elements]) })
        .ToDictionary(e => e.Item1, e => e.Item2, StringComparer.Ordinal);

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
        double correction1 = 1 - Math.Pow(beta1, step), correction2 = 1 - Math.Pow(beta2, step);
        // Tensors are independent: updating them in parallel keeps every result bit-identical.
        Parallel.For(0, parameters.Infos.Length, i =>
        {
            var info = parameters.Infos[i];
            var w = parameters.Values[i];
            var g = parameters.Gradients[i];
            var m = _state["m/" + info.Name];
            var v = _state["v/" + info.Name];
            double decay = info.Shape.Length >= 2 ? weightDecay : 0;
            for (int j = 0; j < w.Length; j++)
            {
                double grad = g[j];
                double mj = beta1 * m[j] + (1 - beta1) * grad;
                double vj = beta2 * v[j] + (1 - beta2) * grad * grad;
                m[j] = (float)mj;
                v[j] = (float)vj;
                double update = mj / correction1 / (Math.Sqrt(vj / correction2) + epsilon);
                w[j] = (float)(w[j] - learningRate * (update + decay * w[j]));
            }
        });
    }
}
