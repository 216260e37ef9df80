namespace OpenMoE.Model.Specs;

/// <summary>
/// Every number that defines one model size. Instances are emitted by the source generator
/// from a spec attribute (one static <c>Config</c> per spec type); model code reads sizes only
/// from here, never from literals.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Spec name, e.g. "OpenMoE-Base/16E".</summary>
    public required string Name { get; init; }
    /// <summary>Vocabulary size V.</summary>
    public required int Vocab { get; init; }
    /// <summary>Hidden size D.</summary>
    public required int Hidden { get; init; }
    /// <summary>Attention heads H.</summary>
    public required int Heads { get; init; }
    /// <summary>Key/value heads (H for full multi-head attention).</summary>
    public required int KvHeads { get; init; }
    /// <summary>Head dimension hd; H*hd may differ from D.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Decoder layers L.</summary>
    public required int Layers { get; init; }
    /// <summary>Maximum sequence length.</summary>
    public required int ContextLength { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public required double NormEps { get; init; }
    /// <summary>RoPE base theta.</summary>
    public required double RopeTheta { get; init; }
    /// <summary>Attention logit scaling.</summary>
    public required AttentionScale AttentionScale { get; init; }
    /// <summary>Whether the LM head shares the embedding matrix.</summary>
    public required bool TiedEmbeddings { get; init; }
    /// <summary>Feed-forward block shape.</summary>
    public required FfnKind FfnKind { get; init; }
    /// <summary>Dense FFN width F (also OpenMoE's extra FFN width).</summary>
    public required int Ffn { get; init; }
    /// <summary>Which layers are MoE layers.</summary>
    public required MoeLayerRule MoeLayerRule { get; init; }
    /// <summary>N for <see cref="MoeLayerRule.EveryN"/>, K for <see cref="MoeLayerRule.FirstKDense"/>.</summary>
    public required int MoeLayerParameter { get; init; }
    /// <summary>Routed experts E.</summary>
    public required int Experts { get; init; }
    /// <summary>Experts chosen per token K.</summary>
    public required int TopK { get; init; }
    /// <summary>Width of one routed expert's FFN (fine-grained experts are narrower than F).</summary>
    public required int ExpertFfn { get; init; }
    /// <summary>Always-on experts.</summary>
    public required SharedExpertKind SharedExpertKind { get; init; }
    /// <summary>Number of shared experts (0 with <see cref="SharedExpertKind.None"/>).</summary>
    public required int SharedExperts { get; init; }
    /// <summary>Width of one shared expert's FFN.</summary>
    public required int SharedExpertFfn { get; init; }
    /// <summary>How combine weights are formed.</summary>
    public required Gating Gating { get; init; }
    /// <summary>Expert capacity rule.</summary>
    public required CapacityRule CapacityRule { get; init; }
    /// <summary>Capacity factor while training (OpenMoE: 1.25).</summary>
    public required double TrainCapacityFactor { get; init; }
    /// <summary>Capacity factor in evaluation (OpenMoE: 2.0).</summary>
    public required double EvalCapacityFactor { get; init; }
    /// <summary>Smallest capacity per expert (OpenMoE: 4).</summary>
    public required int MinCapacity { get; init; }
    /// <summary>Token choice or expert choice.</summary>
    public RoutingRule RoutingRule { get; init; }
    /// <summary>Softmax or sigmoid expert scores.</summary>
    public RouterScoring RouterScoring { get; init; }
    /// <summary>Which assignments an overflowing expert keeps.</summary>
    public DropPolicy DropPolicy { get; init; }
    /// <summary>Auxiliary-loss-free balancing by a per-expert selection bias.</summary>
    public bool ExpertBias { get; init; }
    /// <summary>Bias step per training step (with <see cref="ExpertBias"/>).</summary>
    public double BiasUpdateRate { get; init; } = 0.001;
    /// <summary>Expert groups of group-limited routing (1 = none).</summary>
    public int ExpertGroups { get; init; } = 1;
    /// <summary>Groups each token may use.</summary>
    public int TopGroups { get; init; } = 1;

    /// <summary>True iff decoder layer <paramref name="layer"/> (0-based) is a MoE layer.</summary>
    public bool IsMoeLayer(int layer) => MoeLayerRule switch
    {
        MoeLayerRule.EveryN => (layer + 1) % MoeLayerParameter == 0,
        MoeLayerRule.FirstKDense => layer >= MoeLayerParameter,
        MoeLayerRule.Dense => false,
        _ => throw new InvalidOperationException($"Unknown MoE layer rule {MoeLayerRule}."),
    };

    /// <summary>Indices of the MoE layers, ascending.</summary>
    public IReadOnlyList<int> MoeLayers => Enumerable.Range(0, Layers).Where(IsMoeLayer).ToArray();
}
