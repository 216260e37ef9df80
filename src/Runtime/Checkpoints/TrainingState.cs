using MessagePack;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Everything besides tensors that a resumed training run needs to continue exactly where it
/// stopped. Optimizer tensors (Adafactor factors, AdamW moments) are stored as ordinary
/// tensors under <see cref="OptimizerTensorNames"/>. Keys are never reused.
/// </summary>
[MessagePackObject]
public sealed class TrainingState
{
    /// <summary>Number of optimizer steps taken.</summary>
    [Key(0)] public long Step { get; set; }

    /// <summary>Position in the learning-rate schedule (may differ from <see cref="Step"/> after a schedule restart).</summary>
    [Key(1)] public long ScheduleStep { get; set; }

    /// <summary>Learning rate used at the last step (for logging; the schedule recomputes it).</summary>
    [Key(2)] public double LearningRate { get; set; }

    /// <summary>Full RNG state words (e.g. xoshiro256** state), restored verbatim.</summary>
    [Key(3)] public ulong[] RngState { get; set; } = [];

    /// <summary>Data-loader position: examples consumed so far.</summary>
    [Key(4)] public long DataPosition { get; set; }

    /// <summary>Free-form data-loader counters (per-source offsets, epoch, shuffle seed...).</summary>
    [Key(5)] public Dictionary<string, long> DataCounters { get; set; } = [];

    /// <summary>Current objective phase (e.g. "ul2" or "causal-lm").</summary>
    [Key(6)] public string ObjectivePhase { get; set; } = "";

    /// <summary>Optimizer name as used in tensor names ("adafactor", "adamw").</summary>
    [Key(7)] public string OptimizerName { get; set; } = "";

    /// <summary>Optimizer scalars that are not tensors (bias-correction powers, clip statistics...).</summary>
    [Key(8)] public Dictionary<string, double> OptimizerScalars { get; set; } = [];
}

/// <summary>Reserved tensor names for optimizer state: under <c>optim/</c>, ending in the parameter's name (the trainer writes <c>optim/&lt;slot&gt;/&lt;param&gt;</c>).</summary>
public static class OptimizerTensorNames
{
    /// <summary>Prefix of every optimizer tensor; model parameter names never start with it.</summary>
    public const string Prefix = "optim/";

    /// <summary>Name of an optimizer slot of a parameter, e.g. <c>optim/adamw/m/model.norm.weight</c>.</summary>
    public static string For(string optimizer, string slot, string parameter)
    {
        if (optimizer.Contains('/') || slot.Contains('/'))
            throw new ArgumentException("Optimizer and slot names must not contain '/'.");
        return $"{Prefix}{optimizer}/{slot}/{parameter}";
    }

    /// <summary>True for names under <see cref="Prefix"/>.</summary>
    public static bool IsOptimizerTensor(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>
    /// The parameter an optimizer tensor is state of: what follows its last '/' (parameter names have
    /// none), for the trainer's <c>optim/SLOT/PARAMETER</c> and for <see cref="For"/>'s names alike.
    /// </summary>
    public static string ParameterOf(string name) => IsOptimizerTensor(name)
        ? name[(name.LastIndexOf('/') + 1)..]
        : throw new ArgumentException($"'{name}' is not an optimizer tensor name (optim/.../PARAMETER).");
}

/// <summary>
/// Reserved tensor names for routing state that is model state but no parameter (no gradient, not in
/// the spec's parameter table): <c>routing/expert_bias/&lt;layer&gt;</c>, the per-expert selection bias of
/// auxiliary-loss-free balancing, [E] fp32. Inference reads it too, so it is allowed wherever weights load.
/// </summary>
public static class RoutingStateTensorNames
{
    /// <summary>Prefix of every routing-state tensor; model parameter names never start with it.</summary>
    public const string Prefix = "routing/";

    /// <summary>Name of decoder layer <paramref name="layer"/>'s expert bias.</summary>
    public static string ExpertBias(int layer) => $"{Prefix}expert_bias/{layer}";

    /// <summary>True for names under <see cref="Prefix"/>.</summary>
    public static bool IsRoutingState(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);
}
