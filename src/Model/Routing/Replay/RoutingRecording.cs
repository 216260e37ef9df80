namespace OpenMoE.Model.Routing.Replay;

/// <summary>
/// Every MoE layer's routing decisions of a sequence of forwards (one <see cref="RecordedBatch"/> each),
/// with what identifies them: the spec (name and hash) and, per batch, its shape and a hash of its token ids.
/// Read and written by <see cref="RoutingRecordingFile"/>.
/// </summary>
public sealed record RoutingRecording(string SpecName, string SpecHash, IReadOnlyList<RecordedBatch> Batches);

/// <summary>One forward's decisions. // tokens [B, T]; Layers in layer order</summary>
public sealed record RecordedBatch(int Batch, int Time, ulong TokenHash, IReadOnlyList<RoutingDecisions> Layers)
{
    /// <summary>FNV-1a 64 of the token ids: a recording replays only on the batch it was made from.</summary>
    public static ulong HashTokens(ReadOnlySpan<int> tokens)
    {
        ulong hash = 14695981039346656037UL;
        foreach (int token in tokens)
        {
            for (int b = 0; b < 4; b++)
                hash = unchecked((hash ^ (byte)(token >> (8 * b))) * 1099511628211UL);
        }
        return hash;
    }
}
