namespace OpenMoE.Model.Routing.Replay;

/// <summary>
/// Forces a recording's decisions on successive forwards (<c>ForwardOptions.ReplayRouting</c>, training's
/// <c>TrainingNetwork.ReplayRouting</c>): forward i replays recorded batch i, after checking that the
/// recording belongs to this spec and this batch. Counts how many decisions a fresh forward would have
/// made differently.
/// </summary>
public sealed class RoutingReplay
{
    private readonly RoutingRecording _recording;
    private RecordedBatch? _current;
    private int _next;

    /// <summary>Replays <paramref name="recording"/> on a network of spec <paramref name="specName"/> with hash <paramref name="specHash"/>.</summary>
    public RoutingReplay(RoutingRecording recording, string specName, string specHash)
    {
        if (recording.SpecHash != specHash)
            throw new ArgumentException(
                $"The routing recording was made with spec {recording.SpecName} ({recording.SpecHash}), not {specName} ({specHash}); record it again with this model.");
        _recording = recording;
    }

    /// <summary>Decisions replayed so far.</summary>
    public long Decisions { get; private set; }

    /// <summary>Of <see cref="Decisions"/>, those a fresh forward would have changed (another expert, or kept instead of dropped or back).</summary>
    public long Changed { get; private set; }

    /// <summary>Selects the next recorded batch for a forward of tokens [B, T]; throws when it is not this batch.</summary>
    public void BeginBatch(ReadOnlySpan<int> tokens, int batch, int time)
    {
        if (_next >= _recording.Batches.Count)
            throw new ArgumentException($"The routing recording holds {_recording.Batches.Count} batches; this is forward {_next + 1}. Replay the data it was recorded on.");
        var recorded = _recording.Batches[_next];
        if (recorded.Batch != batch || recorded.Time != time)
            throw new ArgumentException($"Routing recording batch {_next} is [B, T] = [{recorded.Batch}, {recorded.Time}], this batch is [{batch}, {time}]: record and replay with the same --batch, --seq and data.");
        if (recorded.TokenHash != RecordedBatch.HashTokens(tokens))
            throw new ArgumentException($"Routing recording batch {_next} was made from other tokens than this batch: replay the data it was recorded on.");
        _current = recorded;
        _next++;
    }

    /// <summary>The decisions of decoder layer <paramref name="layer"/> in the current batch, shaped N tokens x K.</summary>
    public RoutingDecisions For(int layer, int tokens, int topK)
    {
        var batch = _current ?? throw new InvalidOperationException("BeginBatch must come before the layers ask for their decisions.");
        foreach (var decisions in batch.Layers)
        {
            if (decisions.Layer != layer)
                continue;
            if (decisions.Tokens != tokens || decisions.TopK != topK)
                throw new ArgumentException($"Routing recording layer {layer} holds N = {decisions.Tokens}, K = {decisions.TopK}; this forward routes N = {tokens}, K = {topK} (another routing rule?).");
            return decisions;
        }
        throw new ArgumentException($"The routing recording has no decisions for MoE layer {layer}.");
    }

    /// <summary>Counts one layer's replay: <paramref name="changed"/> of <paramref name="decisions"/> would have differed.</summary>
    public void Count(int decisions, int changed)
    {
        Decisions += decisions;
        Changed += changed;
    }
}
