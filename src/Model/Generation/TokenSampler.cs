using OpenMoE.Model.Initialization;

namespace OpenMoE.Model.Generation;

/// <summary>Greedy, temperature, top-k and top-p (nucleus) sampling over one logits row.</summary>
public sealed class TokenSampler(SamplingOptions options)
{
    private readonly SamplingOptions _options = options.Validated();
    private readonly SplitMix64 _random = new(options.Seed);

    /// <summary>The next token id for <paramref name="logits"/> [V].</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        if (_options.Temperature == 0)
            return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var values = logits.ToArray();
        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is var c and not 0 ? c : a.CompareTo(b));
        int keep = _options.TopK > 0 ? Math.Min(_options.TopK, order.Length) : order.Length;

        var probabilities = new double[keep];
        double max = values[order[0]], sum = 0;
        for (int i = 0; i < keep; i++)
            sum += probabilities[i] = Math.Exp((values[order[i]] - max) / _options.Temperature);
        double cumulative = 0;
        for (int i = 0; i < keep; i++)
        {
            cumulative += probabilities[i] / sum;
            if (cumulative >= _options.TopP)
            {
                keep = i + 1;
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < keep; i++)
            total += probabilities[i];
        double u = _random.NextDouble() * total;
        for (int i = 0; i < keep; i++)
        {
            u -= probabilities[i];
            if (u < 0)
                return order[i];
        }
        return order[keep - 1];
    }

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
                best = i;
        }
        return best;
    }
}
