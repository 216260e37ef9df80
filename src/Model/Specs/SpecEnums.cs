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
