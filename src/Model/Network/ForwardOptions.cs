using OpenMoE.Model.Routing.Replay;

namespace OpenMoE.Model.Network;

/// <summary>How one forward pass runs.</summary>
public sealed record ForwardOptions
{
    /// <summary>Use the spec's training capacity factor (1.25 for OpenMoE) instead of the evaluation one (2.0).</summary>
    public bool Training { get; init; }

    /// <summary>Overrides the spec's capacity factor when set.</summary>
    public double? CapacityFactor { get; init; }

    /// <summary>
    /// Copy every MoE layer's routing (choices, probabilities, kept/dropped, slots) and router losses
    /// to the host. Off for generation, where only the logits matter.
    /// </summary>
    public bool CollectTrace { get; init; } = true;

    /// <summary>Compute logits only at each sequence's last position (generation): [B, V] instead of [B, T, V].</summary>
    public bool LastPositionOnly { get; init; }

    /// <summary>
    /// Keep every layer's intermediates under layer-scoped names ("L3.attn.q") for
    /// <see cref="MoeTransformer.Intermediates"/> (debugging: more memory, a copy per norm input).
    /// </summary>
    public bool KeepIntermediates { get; init; }

    /// <summary>
    /// Run the fused kernels where the spec allows them (default): RoPE of queries and keys in one launch,
    /// and, before OpenMoE's extra FFN, the MoE combine, residual add and extra norm in one. False runs
    /// the unfused kernels they replace, in the same order (the reference sequence; the benches time both).
    /// </summary>
    public bool FusedKernels { get; init; } = true;

    /// <summary>
    /// Run the kernels specialised on the spec's generated dims (default: D, V, H, KvH, hd folded in as
    /// constants); false runs the runtime-size kernels with the config's sizes (<see cref="SpecKernels"/>).
    /// </summary>
    public bool SizeSpecialised { get; init; } = true;

    /// <summary>Bytes of expert activations an inference MoE layer runs through at once (tests make it small to split the experts' launches).</summary>
    internal long ExpertScratchBytes { get; init; } = MoeLayer.InferenceExpertScratchBytes;

    /// <summary>When set, the forward adds every MoE layer's routing decisions to it (<c>eval --record-routing</c>).</summary>
    public RoutingRecorder? RecordRouting { get; init; }

    /// <summary>When set, the forward routes every MoE layer as recorded and counts what a fresh routing would have changed.</summary>
    public RoutingReplay? ReplayRouting { get; init; }
}
