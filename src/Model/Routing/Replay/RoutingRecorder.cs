namespace OpenMoE.Model.Routing.Replay;

/// <summary>
/// Collects the routing decisions of successive forwards (<c>ForwardOptions.RecordRouting</c>): the
/// network calls <see cref="BeginBatch"/> per forward and <see cref="Add"/> per MoE layer.
/// </summary>
public sealed class RoutingRecorder
{
    private readonly List<RecordedBatch> _batches = [];
    private List<RoutingDecisions>? _current;

    /// <summary>Starts the record of a forward of tokens [B, T].</summary>
    public void BeginBatch(ReadOnlySpan<int> tokens, int batch, int time)
    {
        _current = [];
        _batches.Add(new RecordedBatch(batch, time, RecordedBatch.HashTokens(tokens), _current));
    }

    /// <summary>Adds one MoE layer's decisions to the current forward.</summary>
    public void Add(RoutingDecisions decisions) =>
        (_current ?? throw new InvalidOperationException("BeginBatch must come before the layers' decisions.")).Add(decisions);

    /// <summary>Everything recorded so far, for the spec <paramref name="specName"/> with hash <paramref name="specHash"/>.</summary>
    public RoutingRecording ToRecording(string specName, string specHash) => new(specName, specHash, _batches.ToArray());
}
