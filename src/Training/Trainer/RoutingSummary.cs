using OpenMoE.Model.Network;

namespace OpenMoE.Training;

/// <summary>
/// Routing counts accumulated over training steps: kept assignments per expert and dropped
/// assignments by position bucket, per MoE layer (the demo's routing summary).
/// </summary>
public sealed class RoutingSummary(int experts, int sequenceLength, int buckets = 8)
{
    private readonly SortedDictionary<int, (long[] Load, long[] Dropped)> _layers = [];
    private long _tokensPerPosition;

    /// <summary>Position buckets of equal width over [0, T).</summary>
    public int Buckets { get; } = buckets;

    /// <summary>Adds one step's routing.</summary>
    public void Add(StepReport report)
    {
        foreach (var layer in report.MoeLayers)
        {
            if (!_layers.TryGetValue(layer.Layer, out var counts))
                _layers[layer.Layer] = counts = (new long[experts], new long[sequenceLength]);
            for (int e = 0; e < experts; e++) counts.Load[e] += layer.ExpertLoad[e];
            for (int t = 0; t < sequenceLength; t++) counts.Dropped[t] += layer.DroppedByPosition[t];
        }
        _tokensPerPosition += report.Tokens / sequenceLength;
    }

    /// <summary>MoE layers seen.</summary>
    public IEnumerable<int> Layers => _layers.Keys;

    /// <summary>Share of kept assignments per expert in <paramref name="layer"/>. // [E]</summary>
    public double[] LoadShare(int layer)
    {
        var load = _layers[layer].Load;
        double total = Math.Max(1, load.Sum());
        return load.Select(l => l / total).ToArray();
    }

    /// <summary>Drop ratio (dropped / assignments) per position bucket of <paramref name="layer"/>, given top-k. // [Buckets]</summary>
    public double[] DropRatioByBucket(int layer, int topK)
    {
        var dropped = _layers[layer].Dropped;
        var ratios = new double[Buckets];
        for (int b = 0; b < Buckets; b++)
        {
            int from = b * sequenceLength / Buckets, to = (b + 1) * sequenceLength / Buckets;
            long sum = 0;
            for (int t = from; t < to; t++) sum += dropped[t];
            ratios[b] = sum / Math.Max(1.0, (double)(to - from) * _tokensPerPosition * topK);
        }
        return ratios;
    }

    /// <summary>Label of bucket <paramref name="bucket"/>, e.g. "0-15".</summary>
    public string BucketLabel(int bucket) => $"{bucket * sequenceLength / Buckets}-{(bucket + 1) * sequenceLength / Buckets - 1}";
}
