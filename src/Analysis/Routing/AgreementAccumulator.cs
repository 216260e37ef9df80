namespace OpenMoE.Analysis;

/// <summary>
/// Router saturation (OLMoE's measure): one checkpoint's routing against the final checkpoint's on
/// the same tokens, per MoE layer: how many document tokens have the same top-1 expert, how much
/// of the top-k set is shared (<c>|S ∩ S_final| / K</c>), plus both top-1 histograms (for the chance
/// level <c>sum_e p_e q_e</c>).
/// </summary>
public sealed class AgreementAccumulator
{
    private readonly int[] _layers;
    private readonly int _experts;
    private readonly long[] _matches;
    private readonly long[] _shared;   // per MoE layer: top-k experts in common, summed over tokens
    private readonly long[][] _mine;   // per MoE layer [E]
    private readonly long[][] _final;  // per MoE layer [E]
    private long _tokens;
    private int _topK = 1;

    /// <summary>Counts agreement for MoE layers <paramref name="layers"/> with E experts.</summary>
    public AgreementAccumulator(IReadOnlyList<int> layers, int experts)
    {
        _layers = [.. layers];
        _experts = experts;
        _matches = new long[_layers.Length];
        _shared = new long[_layers.Length];
        _mine = _layers.Select(_ => new long[experts]).ToArray();
        _final = _layers.Select(_ => new long[experts]).ToArray();
    }

    /// <summary>Adds one batch of this checkpoint and the final checkpoint's routing of the same tokens.</summary>
    public void Add(RoutingBatch batch, RoutingBatch final)
    {
        if (!batch.TokenIds.AsSpan().SequenceEqual(final.TokenIds))
            throw new InvalidOperationException("The data differs between the final checkpoint's pass and this one; the pipeline must be deterministic.");
        for (int i = 0; i < batch.Tokens; i++)
            _tokens += batch.IsText(i) ? 1 : 0;
        for (int m = 0; m < _layers.Length; m++)
        {
            LayerRouting routing = batch.Layers[m], reference = final.Layers[m];
            int k = _topK = routing.TopK;
            for (int i = 0; i < batch.Tokens; i++)
            {
                if (!batch.IsText(i))
                    continue;
                int mine = routing.Expert[i * k], theirs = reference.Expert[i * k];
                _matches[m] += mine == theirs ? 1 : 0;
                _mine[m][mine]++;
                _final[m][theirs]++;
                var finalSet = reference.Expert.AsSpan(i * k, k);
                for (int r = 0; r < k; r++)
                    _shared[m] += finalSet.Contains(routing.Expert[i * k + r]) ? 1 : 0;
            }
        }
    }

    /// <summary>Fraction of document tokens of MoE layer index <paramref name="m"/> with the final top-1 expert.</summary>
    public double Agreement(int m) => _tokens == 0 ? 0 : (double)_matches[m] / _tokens;

    /// <summary>Mean share of a token's top-k set that the final checkpoint also chose, MoE layer index <paramref name="m"/>.</summary>
    public double TopKOverlap(int m) => _tokens == 0 ? 0 : (double)_shared[m] / (_tokens * (double)_topK);

    /// <summary>Mean over MoE layers of <see cref="Agreement"/>.</summary>
    public double MeanAgreement => _layers.Length == 0 ? 0 : Enumerable.Range(0, _layers.Length).Average(Agreement);

    /// <summary>Agreement of two independent routings with these top-1 shares, MoE layer index <paramref name="m"/>.</summary>
    public double Chance(int m) => _tokens == 0 ? 0 : Enumerable.Range(0, _experts).Sum(e => (double)_mine[m][e] / _tokens * _final[m][e] / _tokens);

    /// <summary>
    /// One point per MoE layer for checkpoint <paramref name="checkpoint"/>; <paramref name="tokenIdAgreement"/>
    /// gives each layer's token-id agreement (see <see cref="TokenIdAgreement"/>), by MoE layer index.
    /// </summary>
    public IEnumerable<AgreementPoint> Results(int checkpoint, ModelLabel model, Func<int, double> tokenIdAgreement) => _layers.Select((layer, m) => new AgreementPoint(
        checkpoint, model.Label, model.Step, layer, Agreement(m), Chance(m), tokenIdAgreement(m), TopKOverlap(m)));

    /// <summary>Mean top-1 agreement over MoE layers of paired rows (this checkpoint's, the final's): the bootstrap statistic.</summary>
    public static double MeanAgreementOf(IReadOnlyList<(RoutingBatch Mine, RoutingBatch Final)> pairs, IReadOnlyList<int> layers, int experts)
    {
        var accumulator = new AgreementAccumulator(layers, experts);
        foreach (var (mine, final) in pairs)
            accumulator.Add(mine, final);
        return accumulator.MeanAgreement;
    }

    /// <summary>Fraction of the final checkpoint's token ids whose most frequent top-1 expert is the same in <paramref name="mine"/> (ids missing there count as disagreeing).</summary>
    public static double TokenIdAgreement(IReadOnlyDictionary<int, int> mine, IReadOnlyDictionary<int, int> final) =>
        final.Count == 0 ? 0 : (double)final.Count(p => mine.TryGetValue(p.Key, out var e) && e == p.Value) / final.Count;
}
