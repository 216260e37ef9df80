namespace OpenMoE.Model.Network;

/// <summary>Output of <see cref="MoeTransformer.Forward"/>.</summary>
/// <param name="Logits">[B, T, V] (or [B, V] with <see cref="ForwardOptions.LastPositionOnly"/>), row-major.</param>
/// <param name="Batch">B.</param>
/// <param name="Time">T of this call.</param>
/// <param name="Vocab">V.</param>
/// <param name="MoeLayers">One trace per MoE layer in layer order (empty when tracing is off).</param>
public sealed record ForwardResult(float[] Logits, int Batch, int Time, int Vocab, IReadOnlyList<MoeLayerTrace> MoeLayers)
{
    /// <summary>Kernel launches of this forward, by layer (see <see cref="ForwardLaunches"/>).</summary>
    public required ForwardLaunches Launches { get; init; }

    /// <summary>Load-balancing loss averaged over MoE layers (0 without MoE traces).</summary>
    public double LoadBalancingLoss => MoeLayers.Count == 0 ? 0 : MoeLayers.Average(t => t.LoadBalancingLoss);

    /// <summary>Router z-loss averaged over MoE layers (0 without MoE traces).</summary>
    public double RouterZLoss => MoeLayers.Count == 0 ? 0 : MoeLayers.Average(t => t.ZLoss);

    /// <summary>The logits row of sequence <paramref name="b"/> at (call-relative) position <paramref name="t"/>.</summary>
    public ReadOnlySpan<float> Row(int b, int t) => Logits.AsSpan(checked((int)(((long)b * RowsPerSequence + t) * Vocab)), Vocab);

    private int RowsPerSequence => Logits.Length / Vocab / Batch;
}
