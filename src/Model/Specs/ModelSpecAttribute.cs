namespace OpenMoE.Model.Specs;

/// <summary>
/// Declares a model size. Put it on a top-level, non-generic <c>partial class</c>; the source
/// generator then adds <c>Config</c>, a <c>Dims</c> struct for size-specialised kernels, the
/// parameter table, exact parameter counts, a <c>SpecHash</c> and an entry in the assembly's
/// <c>ModelSpecs</c> registry. Invalid values fail the build with an <c>OMOE0xx</c> diagnostic.
/// Defaults describe OpenMoE; properties documented as "0 = derived" take their value from
/// other properties when left at 0.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ModelSpecAttribute(string name) : Attribute
{
    /// <summary>Spec name used on the command line and in checkpoints, e.g. "OpenMoE-Base/16E".</summary>
    public string Name { get; } = name;
    /// <summary>Vocabulary size V.</summary>
    public int Vocab { get; set; }
    /// <summary>Hidden size D.</summary>
    public int Hidden { get; set; }
    /// <summary>Attention heads H.</summary>
    public int Heads { get; set; }
    /// <summary>Key/value heads; 0 = derived: <see cref="Heads"/> (full multi-head attention).</summary>
    public int KvHeads { get; set; }
    /// <summary>Head dimension hd (even, for RoPE); H*hd may differ from D.</summary>
    public int HeadDim { get; set; }
    /// <summary>Decoder layers L.</summary>
    public int Layers { get; set; }
    /// <summary>Maximum sequence length (OpenMoE: 2048).</summary>
    public int ContextLength { get; set; } = 2048;
    /// <summary>RMSNorm epsilon (OpenMoE: 1e-6).</summary>
    public double NormEps { get; set; } = 1e-6;
    /// <summary>RoPE base theta (OpenMoE: 10000).</summary>
    public double RopeTheta { get; set; } = 10000.0;
    /// <summary>Attention logit scaling (OpenMoE: none).</summary>
    public AttentionScale AttentionScale { get; set; } = AttentionScale.None;
    /// <summary>Whether the LM head shares the embedding matrix (OpenMoE: untied).</summary>
    public bool TiedEmbeddings { get; set; }
    /// <summary>Shape of every FFN block (OpenMoE: three-projection gated FFN with a 2F gate).</summary>
    public FfnKind FfnKind { get; set; } = FfnKind.OpenMoEGated;
    /// <summary>Dense FFN width F (also the width of OpenMoE's extra FFN).</summary>
    public int Ffn { get; set; }
    /// <summary>Which layers are MoE layers (OpenMoE: every N-th).</summary>
    public MoeLayerRule MoeLayerRule { get; set; } = MoeLayerRule.EveryN;
    /// <summary>N for <see cref="MoeLayerRule.EveryN"/> (layer i is MoE iff (i+1) % N == 0), K for <see cref="MoeLayerRule.FirstKDense"/>.</summary>
    public int MoeLayerParameter { get; set; }
    /// <summary>Routed experts E.</summary>
    public int Experts { get; set; }
    /// <summary>Experts per token K (OpenMoE: 2).</summary>
    public int TopK { get; set; } = 2;
    /// <summary>Width of one routed expert's FFN; 0 = derived: <see cref="Ffn"/>.</summary>
    public int ExpertFfn { get; set; }
    /// <summary>Always-on experts (OpenMoE: one sequential extra FFN).</summary>
    public SharedExpertKind SharedExpertKind { get; set; } = SharedExpertKind.SequentialExtraFfn;
    /// <summary>Number of shared experts; -1 = derived: 1 unless <see cref="SharedExpertKind"/> is None, then 0.</summary>
    public int SharedExperts { get; set; } = -1;
    /// <summary>Width of one shared expert; 0 = derived: <see cref="Ffn"/> for the sequential extra FFN, the expert width for parallel shared experts.</summary>
    public int SharedExpertFfn { get; set; }
    /// <summary>How combine weights are formed (OpenMoE: raw softmax probabilities).</summary>
    public Gating Gating { get; set; } = Gating.RawSoftmax;
    /// <summary>Expert capacity rule (OpenMoE training: T5X).</summary>
    public CapacityRule CapacityRule { get; set; } = CapacityRule.T5x;
    /// <summary>Capacity factor while training (OpenMoE: 1.25).</summary>
    public double TrainCapacityFactor { get; set; } = 1.25;
    /// <summary>Capacity factor in evaluation (OpenMoE: 2.0).</summary>
    public double EvalCapacityFactor { get; set; } = 2.0;
    /// <summary>Smallest capacity per expert (OpenMoE: 4).</summary>
    public int MinCapacity { get; set; } = 4;
    /// <summary>Token choice or expert choice (OpenMoE: token choice). Expert choice needs the T5X capacity rule.</summary>
    public RoutingRule RoutingRule { get; set; } = RoutingRule.TokenChoice;
    /// <summary>Softmax or sigmoid expert scores (OpenMoE: softmax).</summary>
    public RouterScoring RouterScoring { get; set; } = RouterScoring.Softmax;
    /// <summary>Which assignments an overflowing expert keeps (OpenMoE: by position).</summary>
    public DropPolicy DropPolicy { get; set; } = DropPolicy.ByPosition;
    /// <summary>
    /// Auxiliary-loss-free balancing (DeepSeek-V3): a per-expert bias added to the scores for the top-k
    /// selection only, moved after each training step by <see cref="BiasUpdateRate"/> towards uniform load.
    /// </summary>
    public bool ExpertBias { get; set; }
    /// <summary>Bias step gamma per training step (DeepSeek-V3: 0.001); used with <see cref="ExpertBias"/>.</summary>
    public double BiasUpdateRate { get; set; } = 0.001;
    /// <summary>Group-limited routing: experts split into this many equal groups (1 = no grouping; at most 32).</summary>
    public int ExpertGroups { get; set; } = 1;
    /// <summary>Groups a token may route to (the best by the sum of their top-2 scores); 1..<see cref="ExpertGroups"/>.</summary>
    public int TopGroups { get; set; } = 1;
}

/// <summary>
/// The parameter counts a paper publishes for a model size, shown next to our exact counts.
/// Put it next to <see cref="ModelSpecAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class PaperFiguresAttribute(long totalParams, long activatedParams, string source) : Attribute
{
    /// <summary>Published total parameters (usually rounded).</summary>
    public long TotalParams { get; } = totalParams;
    /// <summary>Published activated parameters per token (usually rounded).</summary>
    public long ActivatedParams { get; } = activatedParams;
    /// <summary>Where the figures come from, e.g. "OpenMoE paper, Table 1".</summary>
    public string Source { get; } = source;
}
