namespace OpenMoE.Analysis;

/// <summary>
/// Streams batches and counts, per MoE layer, top-k assignments (before dropping) by a token label
/// (domain, language or position bucket) and expert. Memory is O(labels * E) per layer.
/// </summary>
public sealed class LabelShareAccumulator
{
    private readonly string _kind;
    private readonly IReadOnlyList<string> _labels;
    private readonly Func<RoutingBatch, int, int> _labelOf;
    private readonly int _experts;
    private readonly int[] _layers;
    private readonly long[][] _counts; // per MoE layer [L, E]

    /// <summary>
    /// Counts by <paramref name="labelOf"/>(batch, token index), which returns an index into
    /// <paramref name="labels"/> or -1 to skip the token.
    /// </summary>
    public LabelShareAccumulator(string kind, IReadOnlyList<string> labels, Func<RoutingBatch, int, int> labelOf, IReadOnlyList<int> layers, int experts)
    {
        _kind = kind;
        _labels = labels;
        _labelOf = labelOf;
        _experts = experts;
        _layers = [.. layers];
        _counts = _layers.Select(_ => new long[labels.Count * experts]).ToArray();
    }

    /// <summary>By the document's domain.</summary>
    public static LabelShareAccumulator ByDomain(IReadOnlyList<string> domains, IReadOnlyList<int> layers, int experts) =>
        new("domain", domains, (batch, i) => batch.DomainIds[i], layers, experts);

    /// <summary>By the document's language tag.</summary>
    public static LabelShareAccumulator ByLanguage(IReadOnlyList<string> languages, IReadOnlyList<int> layers, int experts) =>
        new("language", languages, (batch, i) => batch.IsText(i) ? batch.LanguageIds[i] : -1, layers, experts);

    /// <summary>By position bucket: bucket b holds positions [b*T/buckets, (b+1)*T/buckets) (integer division, text only).</summary>
    public static LabelShareAccumulator ByPosition(int sequenceLength, int buckets, IReadOnlyList<int> layers, int experts) =>
        new("position", PositionBuckets.Names(sequenceLength, buckets),
            (batch, i) => batch.IsText(i) ? PositionBuckets.Of(i % sequenceLength, sequenceLength, buckets) : -1, layers, experts);

    /// <summary>Adds one batch.</summary>
    public void Add(RoutingBatch batch)
    {
        for (int m = 0; m < _layers.Length; m++)
        {
            var routing = batch.Layers[m];
            var counts = _counts[m];
            for (int i = 0; i < batch.Tokens; i++)
            {
                int label = _labelOf(batch, i);
                if (label < 0)
                    continue;
                for (int r = 0; r < routing.TopK; r++)
                    counts[label * _experts + routing.Expert[i * routing.TopK + r]]++;
            }
        }
    }

    /// <summary>One table per MoE layer; labels with no tokens are left out.</summary>
    public IReadOnlyList<LabelShareTable> Results() => _layers.Select((layer, m) => Table(layer, _counts[m])).ToArray();

    private LabelShareTable Table(int layer, long[] counts)
    {
        var present = Enumerable.Range(0, _labels.Count)
            .Where(l => Enumerable.Range(0, _experts).Any(e => counts[l * _experts + e] > 0)).ToArray();
        var rows = present.Select(l => counts.AsSpan(l * _experts, _experts).ToArray()).ToArray();
        long total = rows.Sum(row => row.Sum());
        var expertShare = Enumerable.Range(0, _experts).Select(e => total == 0 ? 0 : (double)rows.Sum(row => row[e]) / total).ToArray();
        var labelShare = rows.Select(row => total == 0 ? 0 : (double)row.Sum() / total).ToArray();
        var byLabel = rows.Select(row =>
        {
            long sum = row.Sum();
            return row.Select(c => sum == 0 ? 0 : (double)c / sum).ToArray();
        }).ToArray();
        var lift = byLabel.Select(shares => shares.Select((s, e) => expertShare[e] == 0 ? 0 : s / expertShare[e]).ToArray()).ToArray();
        var totalVariation = byLabel.Select(shares => 0.5 * shares.Select((s, e) => Math.Abs(s - expertShare[e])).Sum()).ToArray();
        return new LabelShareTable(layer, _kind, present.Select(l => _labels[l]).ToArray(), rows, labelShare, expertShare, byLabel, lift, totalVariation);
    }
}
