namespace OpenMoE.Analysis;

/// <summary>
/// Streams one checkpoint's batches against the final checkpoint's top-1 experts on the same tokens
/// and counts, per MoE layer, how many document tokens have the same top-1 expert, plus both top-1
/// histograms (for the chance level <c>sum_e p_e q_e</c>).
/// </summary>
public sealed class AgreementAccumulator
{
    private readonly int[] _layers;
    private readonly int _experts;
    private readonly long[] _matches;
    private readonly long[][] _mine;   // per MoE layer [E]
    private readonly long[][] _final;  // per MoE layer [E]
    private long _tokens;

    /// <summary>Counts agreement for MoE layers <paramref name="layers"/> with E experts.</summary>
    public AgreementAccumulator(IReadOnlyList<int> layers, int experts)
    {
        _layers = [.. layers];
        _experts = experts;
        _matches = new long[_layers.Length];
        _mine = _layers.Select(_ => new long[experts]).ToArray();
        _final = _layers.Select(_ => new long[experts]).ToArray();
    }

    /// <summary>Adds one batch of this checkpoint and the final checkpoint's top-1 experts of the same tokens. // finalTop1 [layers][N]</summary>
    public void Add(RoutingBatch batch, IReadOnlyList<ushort[]> finalTop1)
    {
        for (int i = 0; i < batch.Tokens; i++)
            _tokens += batch.IsText(i) ? 1 : 0;
        for (int m = 0; m < _layers.Length; m++)
        {
            var routing = batch.Layers[m];
            for (int i = 0; i < batch.Tokens; i++)
            {
                if (!batch.IsText(i))
                    continue;
                int mine = routing.Expert[i * routing.TopK], final = finalTop1[m][i];
                _matches[m] += mine == final ? 1 : 0;
                _mine[m][mine]++;
                _final[m][final]++;
            }
        }
    }

    /// <summary>
    /// One point per MoE layer for checkpoint <paramref name="checkpoint"/>; <paramref name="tokenIdAgreement"/>
    /// gives each layer's token-id agreement (see <see cref="TokenIdAgreement"/>), by MoE layer index.
    /// </summary>
    public IEnumerable<AgreementPoint> Results(int checkpoint, ModelLabel model, Func<int, double> tokenIdAgreement) => _layers.Select((layer, m) => new AgreementPoint(
        checkpoint, model.Label, model.Step, layer,
        _tokens == 0 ? 0 : (double)_matches[m] / _tokens,
        _tokens == 0 ? 0 : Enumerable.Range(0, _experts).Sum(e => (double)_mine[m][e] / _tokens * _final[m][e] / _tokens),
        tokenIdAgreement(m)));

    /// <summary>Fraction of the final checkpoint's token ids whose most frequent top-1 expert is the same in <paramref name="mine"/> (ids missing there count as disagreeing).</summary>
    public static double TokenIdAgreement(IReadOnlyDictionary<int, int> mine, IReadOnlyDictionary<int, int> final) =>
        final.Count == 0 ? 0 : (double)final.Count(p => mine.TryGetValue(p.Key, out var e) && e == p.Value) / final.Count;
}
