using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing;

/// <summary>
/// Everything that decides how tokens are routed in one MoE layer (DESIGN §2.3). Construct it
/// directly for experiments and tests, or take it from a model spec with <see cref="FromConfig"/>.
/// </summary>
public sealed record RoutingOptions
{
    /// <summary>Routed experts E (at least 1).</summary>
    public required int Experts { get; init; }
    /// <summary>Experts chosen per token K (1..E).</summary>
    public required int TopK { get; init; }
    /// <summary>How the per-expert capacity is derived from the group size.</summary>
    public required CapacityRule CapacityRule { get; init; }
    /// <summary>Capacity factor cf (training or evaluation value, already chosen).</summary>
    public required double CapacityFactor { get; init; }
    /// <summary>Smallest capacity per expert (OpenMoE: 4); ignored by <see cref="CapacityRule.Dropless"/>.</summary>
    public required int MinCapacity { get; init; }
    /// <summary>Raw softmax probabilities or top-k renormalised weights (renormalised before dropping).</summary>
    public Gating Gating { get; init; } = Gating.RawSoftmax;
    /// <summary>
    /// Batch-prioritised routing (V-MoE): within a group, tokens are visited in order of decreasing
    /// raw top-1 probability (stable: equal probabilities keep token order) instead of token order.
    /// Off for OpenMoE.
    /// </summary>
    public bool BatchPrioritized { get; init; }
    /// <summary>
    /// Tokens per routing group; null means the whole batch is one group (OpenMoE's default).
    /// The token count must be a multiple of it.
    /// </summary>
    public int? GroupSize { get; init; }
    /// <summary>
    /// When set, every expert in every group gets exactly this capacity and the rule is not
    /// consulted (experiments and the laws that hold the capacity fixed). Null in model use.
    /// </summary>
    public int? CapacityOverride { get; init; }
    /// <summary>
    /// Token choice or expert choice. With expert choice every token holds one candidate assignment per
    /// expert (<see cref="TopK"/> = E, rank r names expert r) and each expert keeps its C most probable
    /// ones: expert choice is token choice over all experts with <see cref="DropPolicy.ByProbability"/>.
    /// </summary>
    public RoutingRule Rule { get; init; }
    /// <summary>Softmax or sigmoid scores; the combine weights and the by-probability key are scores (never biased).</summary>
    public RouterScoring Scoring { get; init; }
    /// <summary>Which assignments an overflowing expert keeps (expert choice: always by probability).</summary>
    public DropPolicy DropPolicy { get; init; }
    /// <summary>Add the layer's per-expert bias to the scores for the top-k selection (auxiliary-loss-free balancing).</summary>
    public bool ExpertBias { get; init; }
    /// <summary>Bias step gamma per training step (with <see cref="ExpertBias"/>).</summary>
    public double BiasUpdateRate { get; init; } = 0.001;
    /// <summary>Equal groups the experts are split into for group-limited selection (1 = none, at most 32).</summary>
    public int ExpertGroups { get; init; } = 1;
    /// <summary>Groups each token may choose from (1..<see cref="ExpertGroups"/>).</summary>
    public int TopGroups { get; init; } = 1;

    /// <summary>Whether experts keep their most probable assignments (by-probability dropping or expert choice).</summary>
    public bool KeepsMostProbable => DropPolicy == DropPolicy.ByProbability || Rule == RoutingRule.ExpertChoice;

    /// <summary>
    /// Whether the load-balancing loss applies: it is defined on softmax probabilities of token choices
    /// (DESIGN §2.4); expert choice is balanced by construction (flaxformer returns no auxiliary loss)
    /// and sigmoid scoring balances by its bias.
    /// </summary>
    public bool HasLoadBalancingLoss => Rule == RoutingRule.TokenChoice && Scoring == RouterScoring.Softmax;

    /// <summary>The options a model spec prescribes: evaluation uses the eval capacity factor.</summary>
    public static RoutingOptions FromConfig(ModelConfig config, bool training) => new RoutingOptions
    {
        Experts = config.Experts,
        TopK = config.RoutingRule == RoutingRule.ExpertChoice ? config.Experts : config.TopK,
        CapacityRule = config.CapacityRule,
        CapacityFactor = training ? config.TrainCapacityFactor : config.EvalCapacityFactor,
        MinCapacity = config.MinCapacity,
        Gating = config.Gating,
        Rule = config.RoutingRule,
        Scoring = config.RouterScoring,
        DropPolicy = config.DropPolicy,
        ExpertBias = config.ExpertBias,
        BiasUpdateRate = config.BiasUpdateRate,
        ExpertGroups = config.ExpertGroups,
        TopGroups = config.TopGroups,
    }.Validated();

    /// <summary>Tokens per group for a batch of <paramref name="tokens"/> tokens; fails fast on a bad split.</summary>
    public int TokensPerGroup(int tokens)
    {
        if (tokens < 1)
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "Routing needs at least one token.");
        int size = GroupSize ?? tokens;
        if (size < 1 || tokens % size != 0)
            throw new ArgumentException(
                $"Routing group size {size} must be positive and divide the token count {tokens}; " +
                "change GroupSize or the batch shape.", nameof(tokens));
        return size;
    }

    /// <summary>Capacity per expert and group for groups of <paramref name="tokensPerGroup"/> tokens.</summary>
    public int CapacityFor(int tokensPerGroup) => CapacityOverride ?? ExpertCapacity.Compute(
        CapacityRule, tokensPerGroup, Experts, TopK, CapacityFactor, MinCapacity);

    /// <summary>Throws with a message that says what to change when the options cannot route.</summary>
    public RoutingOptions Validated()
    {
        if (Experts < 1)
            throw new ArgumentException($"Experts must be at least 1 (got {Experts}).");
        if (TopK < 1 || TopK > Experts)
            throw new ArgumentException($"TopK must lie in 1..Experts={Experts} (got {TopK}).");
        if (!(CapacityFactor >= 0) || double.IsInfinity(CapacityFactor))
            throw new ArgumentException($"CapacityFactor must be finite and non-negative (got {CapacityFactor}).");
        if (MinCapacity < 0)
            throw new ArgumentException($"MinCapacity must be non-negative (got {MinCapacity}).");
        if (CapacityOverride is < 0)
            throw new ArgumentException($"CapacityOverride must be non-negative (got {CapacityOverride}).");
        if (GroupSize is < 1)
            throw new ArgumentException($"GroupSize must be positive when set (got {GroupSize}).");
        if (!Enum.IsDefined(CapacityRule) || !Enum.IsDefined(Gating) || !Enum.IsDefined(Rule) || !Enum.IsDefined(Scoring) || !Enum.IsDefined(DropPolicy))
            throw new ArgumentException($"Unknown capacity rule {CapacityRule}, gating {Gating}, routing rule {Rule}, scoring {Scoring} or drop policy {DropPolicy}.");
        // The same rules as the spec diagnostics OMOE018-020, for options made at run time (--routing).
        if (ExpertGroups < 1 || ExpertGroups > 32 || Experts % ExpertGroups != 0 || TopGroups < 1 || TopGroups > ExpertGroups)
            throw new ArgumentException($"Expert groups {ExpertGroups} must divide E={Experts} (at most 32) and the chosen groups {TopGroups} lie in 1..{ExpertGroups}.");
        if (Rule == RoutingRule.TokenChoice && TopK > TopGroups * (Experts / ExpertGroups))
            throw new ArgumentException($"TopK={TopK} exceeds the {TopGroups * (Experts / ExpertGroups)} experts of the {TopGroups} chosen groups; raise the chosen groups or lower TopK.");
        if (Rule == RoutingRule.ExpertChoice)
        {
            if (TopK != Experts)
                throw new ArgumentException($"Expert choice holds one candidate per expert: TopK must be E={Experts} (got {TopK}).");
            // Batch priority orders tokens by their top-1 choice, which expert choice does not have: its ties go to the lower token (jax.lax.top_k).
            if (ExpertBias || ExpertGroups != 1 || Gating != Gating.RawSoftmax || CapacityRule != CapacityRule.T5x || BatchPrioritized)
                throw new ArgumentException("Expert choice takes no expert bias, no expert groups, no batch priority, raw gating and the T5X capacity rule.");
        }
        if (ExpertBias && (!(BiasUpdateRate > 0) || double.IsInfinity(BiasUpdateRate)))
            throw new ArgumentException($"The bias update rate must be positive and finite (got {BiasUpdateRate}).");
        return this;
    }
}
