using OpenMoE.Training.Tokenization;

namespace OpenMoE.Analysis;

/// <summary>
/// Streams batches and counts, per MoE layer, every token id's and every position id's experts
/// (top-1 and all K choices, before capacity dropping: routing, not capacity, is what is measured).
/// Memory is O(distinct ids * E + T * E) per layer, independent of how much data is streamed.
/// Only document text is counted (see <see cref="RoutingBatch.IsText"/>).
/// </summary>
public sealed class TokenSpecializationAccumulator
{
    private readonly int _experts;
    private readonly int _topK;
    private readonly int _sequenceLength;
    private readonly LayerCounts[] _layers;

    /// <summary>Counts for <paramref name="layers"/> MoE layers of E experts and K choices over rows of T positions.</summary>
    public TokenSpecializationAccumulator(IReadOnlyList<int> layers, int experts, int topK, int sequenceLength)
    {
        _experts = experts;
        _topK = topK;
        _sequenceLength = sequenceLength;
        _layers = layers.Select(l => new LayerCounts(l, experts, sequenceLength)).ToArray();
    }

    /// <summary>Adds one batch.</summary>
    public void Add(RoutingBatch batch)
    {
        if (batch.SequenceLength != _sequenceLength || batch.Layers.Count != _layers.Length)
            throw new ArgumentException($"Expected rows of {_sequenceLength} positions and {_layers.Length} MoE layers; got {batch.SequenceLength} and {batch.Layers.Count}.");
        for (int m = 0; m < _layers.Length; m++)
        {
            var counts = _layers[m];
            var routing = batch.Layers[m];
            for (int i = 0; i < batch.Tokens; i++)
            {
                if (!batch.IsText(i))
                    continue;
                var token = counts.Token(batch.TokenIds[i]);
                int position = i % _sequenceLength;
                token.Occurrences++;
                counts.PositionOccurrences[position]++;
                for (int r = 0; r < _topK; r++)
                {
                    int e = routing.Expert[i * _topK + r];
                    token.TopK[e]++;
                    counts.PositionTopK[position * _experts + e]++;
                    if (r == 0)
                    {
                        token.Top1[e]++;
                        counts.PositionTop1[position * _experts + e]++;
                    }
                }
            }
        }
    }

    /// <summary>Occurrences of every token id seen (every layer sees the same tokens).</summary>
    public IReadOnlyDictionary<int, long> TokenFrequencies =>
        _layers.Length == 0 ? new Dictionary<int, long>() : _layers[0].Tokens.ToDictionary(p => p.Key, p => p.Value.Occurrences);

    /// <summary>Top-1 distribution of <paramref name="tokenId"/> in MoE layer index <paramref name="moeIndex"/>, or zeros when unseen. // [E]</summary>
    public double[] Top1Distribution(int moeIndex, int tokenId)
    {
        var result = new double[_experts];
        if (_layers[moeIndex].Tokens.TryGetValue(tokenId, out var token) && token.Occurrences > 0)
        {
            for (int e = 0; e < _experts; e++)
                result[e] = (double)token.Top1[e] / token.Occurrences;
        }
        return result;
    }

    /// <summary>
    /// The most frequent top-1 expert (ties: lower index) of every token id seen at least
    /// <paramref name="minCount"/> times, in MoE layer index <paramref name="moeIndex"/>.
    /// </summary>
    public IReadOnlyDictionary<int, int> MostFrequentTop1(int moeIndex, int minCount) =>
        _layers[moeIndex].Tokens.Where(p => p.Value.Occurrences >= minCount).ToDictionary(
            p => p.Key,
            p => Array.IndexOf(p.Value.Top1, p.Value.Top1.Max()));

    /// <summary>The per-layer figures, for ids seen at least <paramref name="minCount"/> times.</summary>
    public IReadOnlyList<TokenSpecializationLayer> Results(int minCount, ITokenizer tokenizer, int topTokensPerExpert) =>
        _layers.Select(layer => Result(layer, minCount, tokenizer, topTokensPerExpert)).ToArray();

    /// <summary>
    /// Mean over MoE layers of the token-id and position-id spreads (top-k) and the token ids' uniform
    /// baseline, for ids seen at least <paramref name="minCount"/> times: the figures the bootstrap
    /// recomputes, without the token tables.
    /// </summary>
    public (double Token, double Position, double TokenBaseline) MeanSpreads(int minCount)
    {
        if (_layers.Length == 0)
            return (0, 0, 0);
        double token = 0, position = 0, baseline = 0;
        foreach (var layer in _layers)
        {
            var frequent = layer.Tokens.Values.Where(t => t.Occurrences >= minCount).ToArray();
            token += ExpertSpread.RootMeanSquare(frequent.Select(t => ExpertSpread.Specialization(t.TopK, _topK)));
            position += PositionSpread(layer, layer.PositionTopK, _topK);
            baseline += Baseline(frequent.Select(t => t.Occurrences));
        }
        return (token / _layers.Length, position / _layers.Length, baseline / _layers.Length);
    }

    private double PositionSpread(LayerCounts layer, long[] counts, int k) => ExpertSpread.RootMeanSquare(
        Enumerable.Range(0, _sequenceLength).Where(t => layer.PositionOccurrences[t] > 0)
            .Select(t => ExpertSpread.Specialization(counts.AsSpan(t * _experts, _experts), k)));

    private TokenSpecializationLayer Result(LayerCounts layer, int minCount, ITokenizer tokenizer, int topTokensPerExpert)
    {
        var frequent = layer.Tokens.Where(p => p.Value.Occurrences >= minCount)
            .OrderByDescending(p => p.Value.Occurrences).ThenBy(p => p.Key).ToArray();
        var tokens = frequent.Select(p => new TokenRouting(
            p.Key, TokenText.Of(tokenizer, p.Key), p.Value.Occurrences,
            ExpertSpread.Specialization(p.Value.Top1, 1), ExpertSpread.Specialization(p.Value.TopK, _topK),
            (long[])p.Value.Top1.Clone(), (long[])p.Value.TopK.Clone())).ToArray();

        var positions = Enumerable.Range(0, _sequenceLength).Where(t => layer.PositionOccurrences[t] > 0).ToArray();

        return new TokenSpecializationLayer(
            layer.Layer, minCount, tokens.Length,
            ExpertSpread.RootMeanSquare(tokens.Select(t => t.SpecializationTop1)),
            ExpertSpread.RootMeanSquare(tokens.Select(t => t.SpecializationTopK)),
            Baseline(tokens.Select(t => t.Count)),
            PositionSpread(layer, layer.PositionTop1, 1),
            PositionSpread(layer, layer.PositionTopK, _topK),
            Baseline(positions.Select(t => layer.PositionOccurrences[t])),
            tokens,
            TopTokensPerExpert(layer, tokenizer, topTokensPerExpert));
    }

    private IReadOnlyList<IReadOnlyList<ExpertToken>> TopTokensPerExpert(LayerCounts layer, ITokenizer tokenizer, int count) =>
        Enumerable.Range(0, _experts).Select(e => (IReadOnlyList<ExpertToken>)layer.Tokens
            .Where(p => p.Value.TopK[e] > 0)
            .OrderByDescending(p => p.Value.TopK[e]).ThenBy(p => p.Key)
            .Take(count)
            .Select(p => new ExpertToken(p.Key, TokenText.Of(tokenizer, p.Key), p.Value.TopK[e], (double)p.Value.TopK[e] / p.Value.Occurrences))
            .ToArray()).ToArray();

    private static double Baseline(IEnumerable<long> occurrences)
    {
        var list = occurrences.ToArray();
        return list.Length == 0 ? 0 : Math.Sqrt(list.Average(ExpertSpread.UniformExpectedSquare));
    }

    private sealed class LayerCounts(int layer, int experts, int sequenceLength)
    {
        public int Layer { get; } = layer;
        public Dictionary<int, TokenCounts> Tokens { get; } = [];
        public long[] PositionOccurrences { get; } = new long[sequenceLength];
        public long[] PositionTop1 { get; } = new long[sequenceLength * experts];  // [T, E]
        public long[] PositionTopK { get; } = new long[sequenceLength * experts];  // [T, E]

        public TokenCounts Token(int id)
        {
            if (!Tokens.TryGetValue(id, out var counts))
                Tokens[id] = counts = new TokenCounts(experts);
            return counts;
        }
    }

    private sealed class TokenCounts(int experts)
    {
        public long Occurrences;
        public readonly long[] Top1 = new long[experts];
        public readonly long[] TopK = new long[experts];
    }
}
