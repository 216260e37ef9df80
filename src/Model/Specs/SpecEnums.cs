namespace OpenMoE.Model.Specs;

/// <summary>How attention logits are scaled before the softmax.</summary>
public enum AttentionScale
{
    /// <summary>No scaling: OpenMoE folds 1/sqrt(hd) into the query initialisation.</summary>
    None = 0,
    /// <summary>Logits times 1/sqrt(head_dim) (Mixtral, DeepSeekMoE).</summary>
    InverseSqrtHeadDim = 1,
}

/// <summary>Shape of every feed-forward block (dense, extra/shared, expert).</summary>
public enum FfnKind
{
    /// <summary>OpenMoE: g = x·Wg of width 2F, h = g[:F] * silu(g[F:]) * (x·Wup), out = h·Wdown.</summary>
    OpenMoEGated = 0,
    /// <summary>Standard SwiGLU: h = silu(x·Wgate) * (x·Wup), out = h·Wdown, gate width F.</summary>
    SwiGlu = 1,
}

/// <summary>Which decoder layers are MoE layers.</summary>
public enum MoeLayerRule
{
    /// <summary>Layer i (0-based) is MoE iff (i + 1) % interval == 0 (OpenMoE).</summary>
    EveryN = 0,
    /// <summary>The first K layers are dense, the rest MoE (DeepSeekMoE; K = 0 is Mixtral).</summary>
    FirstKDense = 1,
    /// <summary>
    /// No MoE layer: every layer is attention plus one dense FFN of width F. The dense stage of
    /// upcycling (<c>openmoe upcycle</c>); the spec sets Experts = 1, TopK = 1 and no shared expert.
    /// </summary>
    Dense = 2,
}

/// <summary>Always-on experts next to the routed ones.</summary>
public enum SharedExpertKind
{
    /// <summary>No shared expert.</summary>
    None = 0,
    /// <summary>OpenMoE's extra FFN: sequential, after the MoE sublayer, with its own norm.</summary>
    SequentialExtraFfn = 1,
    /// <summary>DeepSeekMoE's shared experts: parallel to the routed experts, same input.</summary>
    ParallelShared = 2,
}

/// <summary>How the top-k combine weights are formed.</summary>
public enum Gating
{
    /// <summary>Raw softmax probabilities over all experts (OpenMoE, DeepSeekMoE).</summary>
    RawSoftmax = 0,
    /// <summary>Top-k probabilities renormalised to sum to one, before dropping (Mixtral).</summary>
    RenormalizedTopK = 1,
}

/// <summary>Expert capacity rule (DESIGN §2.3).</summary>
public enum CapacityRule
{
    /// <summary>T5X: max(round(cf * N / E), min_capacity).</summary>
    T5x = 0,
    /// <summary>ColossalAI/HF: floor(k * cf * N / E) rounded up to even, at least min_capacity.</summary>
    Cai = 1,
    /// <summary>No capacity limit: nothing is ever dropped.</summary>
    Dropless = 2,
}

/// <summary>Who chooses: tokens their top-k experts, or experts their top-C tokens (issue 16).</summary>
public enum RoutingRule
{
    /// <summary>Each token picks its top-k experts; capacity drops the overflow (OpenMoE, Mixtral, DeepSeek).</summary>
    TokenChoice = 0,
    /// <summary>
    /// flaxformer <c>ExpertsChooseMaskedRouter</c>: per group each expert takes its top-C tokens by
    /// router probability; a token gets 0..E experts; combine weight = that probability. Which tokens
    /// an expert takes depends on later tokens, so in a decoder it breaks causality: research only,
    /// and generation refuses it.
    /// </summary>
    ExpertChoice = 1,
}

/// <summary>How router logits become expert scores.</summary>
public enum RouterScoring
{
    /// <summary>Softmax over all experts (OpenMoE, Mixtral, DeepSeekMoE).</summary>
    Softmax = 0,
    /// <summary>Independent sigmoid per expert (DeepSeek-V3); pair it with <see cref="Gating.RenormalizedTopK"/>.</summary>
    Sigmoid = 1,
}

/// <summary>Which assignments an overflowing expert keeps.</summary>
public enum DropPolicy
{
    /// <summary>OpenMoE: the first C in priority order (every first choice before any second choice, then token order).</summary>
    ByPosition = 0,
    /// <summary>Megatron-Core "probs": the C assignments with the highest router score (ties by priority order).</summary>
    ByProbability = 1,
}
