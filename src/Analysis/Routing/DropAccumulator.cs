namespace OpenMoE.Analysis;

/// <summary>
/// Streams batches of one data set and counts, per MoE layer and position bucket, the assignments
/// that capacity dropped. Ratios are over the K assignments of document tokens; BOS and padding
/// still take capacity (they are routed like any token) but are not counted.
/// </summary>
public sealed class DropAccumulator
{
    private readonly string _name;
    private readonly int _sequenceLength;
    private readonly int _buckets;
    private readonly int[] _layers;
    private readonly long[][] _dropped;   // per MoE layer [buckets]
    private readonly long[][] _assigned;  // per MoE layer [buckets]
    private readonly long[] _lostAll;     // per MoE layer
    private long _textTokens;

    /// <summary>Counts drops of data set <paramref name="name"/> in <paramref name="buckets"/> position buckets.</summary>
    public DropAccumulator(string name, IReadOnlyList<int> layers, int sequenceLength, int buckets)
    {
        _name = name;
        _sequenceLength = sequenceLength;
        _buckets = buckets;
        _layers = [.. layers];
        _dropped = _layers.Select(_ => new long[buckets]).ToArray();
        _assigned = _layers.Select(_ => new long[buckets]).ToArray();
        _lostAll = new long[_layers.Length];
    }

    /// <summary>Capacity per expert of the last batch (0 before any).</summary>
    public int LastCapacity { get; private set; }

    /// <summary>Tokens per batch of the last batch.</summary>
    public int LastTokens { get; private set; }

    /// <summary>Adds one batch.</summary>
    public void Add(RoutingBatch batch)
    {
        LastTokens = batch.Tokens;
        for (int i = 0; i < batch.Tokens; i++)
            _textTokens += batch.IsText(i) ? 1 : 0;
        for (int m = 0; m < _layers.Length; m++)
        {
            var routing = batch.Layers[m];
            LastCapacity = routing.Capacity;
            for (int i = 0; i < batch.Tokens; i++)
            {
                if (!batch.IsText(i))
                    continue;
                int bucket = PositionBuckets.Of(i % _sequenceLength, _sequenceLength, _buckets);
                int dropped = 0;
                for (int r = 0; r < routing.TopK; r++)
                    dropped += routing.Kept[i * routing.TopK + r] ? 0 : 1;
                _dropped[m][bucket] += dropped;
                _assigned[m][bucket] += routing.TopK;
                _lostAll[m] += dropped == routing.TopK ? 1 : 0;
            }
        }
    }

    /// <summary>The figures for this data set.</summary>
    public DropDataSet Result()
    {
        var layers = _layers.Select((layer, m) => new DropLayer(
            layer,
            Ratio(_dropped[m].Sum(), _assigned[m].Sum()),
            _dropped[m].Select((d, b) => Ratio(d, _assigned[m][b])).ToArray(),
            Ratio(_lostAll[m], _textTokens))).ToArray();
        var mean = Enumerable.Range(0, _buckets).Select(b => layers.Length == 0 ? 0 : layers.Average(l => l.ByBucket[b])).ToArray();
        return new DropDataSet(_name, _textTokens, layers.Length == 0 ? 0 : layers.Average(l => l.DropRatio), mean, layers);
    }

    private static double Ratio(long part, long whole) => whole == 0 ? 0 : (double)part / whole;
}
