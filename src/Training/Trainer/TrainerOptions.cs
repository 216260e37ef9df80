using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>Settings of one training run (the <c>openmoe train</c> flags).</summary>
public sealed record TrainerOptions
{
    /// <summary>Spec name, e.g. "OpenMoE-Tiny".</summary>
    public required string Spec { get; init; }
    /// <summary>Data spec file or folder (corpus.json), e.g. "data/corpus".</summary>
    public required string Data { get; init; }
    /// <summary>Run folder: metrics.jsonl and checkpoints/.</summary>
    public required string Out { get; init; }
    /// <summary>Total updates.</summary>
    public long Steps { get; init; } = 100;
    /// <summary>Sequences per batch B.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Sequence length T.</summary>
    public int SequenceLength { get; init; } = 128;
    /// <summary>"ul2", "causal" or "ul2-then-causal".</summary>
    public string Objective { get; init; } = "ul2";
    /// <summary>Step at which ul2-then-causal switches (default: half way).</summary>
    public long? SwitchStep { get; init; }
    /// <summary>"adafactor" (OpenMoE) or "adamw".</summary>
    public string Optimizer { get; init; } = "adafactor";
    /// <summary>Plateau learning rate of the inverse-sqrt schedule, or the cosine peak.</summary>
    public double LearningRate { get; init; } = 0.01;
    /// <summary>"rsqrt" (lr * sqrt(warmup / max(step, warmup)), OpenMoE) or "cosine" (linear warmup, cosine to 0).</summary>
    public string Schedule { get; init; } = "rsqrt";
    /// <summary>Warmup/plateau steps (OpenMoE: 10,000).</summary>
    public long Warmup { get; init; } = 100;
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Capacity factor; null = the spec's training value (OpenMoE: 1.25).</summary>
    public double? CapacityFactor { get; init; }
    /// <summary>Save every K steps (and at the end); 0 = only at the end.</summary>
    public long CheckpointEvery { get; init; }
    /// <summary>How many of the newest checkpoints to keep (0 = all, e.g. to study routing over training).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Seed of the initialisation and the data order.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Continue from the run folder's latest checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>Replace a run already in <see cref="Out"/> (its metrics, plot and checkpoints) instead of refusing.</summary>
    public bool Overwrite { get; init; }
    /// <summary>
    /// Start from these weights instead of a fresh initialisation (a checkpoint or safetensors of the same
    /// spec, e.g. written by <c>openmoe upcycle</c>): step 0, a fresh optimizer. Ignored when resuming from the run's own checkpoint.
    /// </summary>
    public string? InitFrom { get; init; }
    /// <summary>Tokenizer: a BPE vocabulary name, a SentencePiece model file, or null for the byte tokenizer (<see cref="Tokenization.Tokenizers.Open"/>).</summary>
    public string? Tokenizer { get; init; }
    /// <summary>A routing rule over the spec's (<c>--routing</c>, syntax of <see cref="Model.Routing.RoutingOverride"/>); null = the spec's.</summary>
    public string? Routing { get; init; }
    /// <summary>A routing recording whose decisions every step replays, in order (<c>--replay-routing</c>); null = route fresh.</summary>
    public string? ReplayRouting { get; init; }

    /// <summary>Ranks each replica's experts are split over (<c>--expert-parallel</c>; 1 = every rank holds every expert).</summary>
    public int ExpertParallel { get; init; } = 1;
    /// <summary>Replicas that train on different rows of each batch and average their gradients (<c>--data-parallel</c>).</summary>
    public int DataParallel { get; init; } = 1;
    /// <summary>Ranks of the job: <see cref="ExpertParallel"/> x <see cref="DataParallel"/>.</summary>
    public int Ranks => ExpertParallel * DataParallel;

    /// <summary>
    /// Checks every setting before any work, naming the option: a bad value is an
    /// <see cref="ArgumentException"/> whose message says what to pass instead.
    /// </summary>
    public void Validate()
    {
        var spec = Model.Specs.ModelSpecs.Find(Spec);
        var config = spec.Config;
        Require(Steps >= 1, $"--steps must be at least 1; got {Steps}.");
        Require(Batch >= 1, $"--batch must be at least 1; got {Batch}.");
        Require(SequenceLength >= 1, $"--seq must be at least 1; got {SequenceLength}.");
        Require(SequenceLength <= config.ContextLength, $"--seq {SequenceLength} exceeds the context length {config.ContextLength} of {config.Name}.");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, $"--lr must be a finite number > 0; got {LearningRate}.");
        Require(Warmup >= 0, $"--warmup must be at least 0; got {Warmup}.");
        Require(double.IsFinite(ClipNorm) && ClipNorm >= 0, $"--clip must be a finite number >= 0; got {ClipNorm}.");
        Require(CapacityFactor is not { } cf || (double.IsFinite(cf) && cf > 0), $"--capacity-factor must be a finite number > 0; got {CapacityFactor}.");
        Require(CheckpointEvery >= 0, $"--checkpoint-every must be at least 0; got {CheckpointEvery}.");
        Require(KeepCheckpoints >= 0, $"--keep-checkpoints must be at least 0; got {KeepCheckpoints}.");
        Require(SwitchStep is not { } s || s >= 0, $"--switch-step must be at least 0; got {SwitchStep}.");
        Require(ExpertParallel >= 1 && DataParallel >= 1, $"--expert-parallel and --data-parallel must be at least 1; got {ExpertParallel} and {DataParallel}.");
        Require(ExpertParallel == 1 || config.MoeLayers.Count > 0, $"--expert-parallel {ExpertParallel}: {config.Name} is dense (no experts to split); use --data-parallel {ExpertParallel} instead.");
        Require(config.Experts == 0 || config.Experts % ExpertParallel == 0,
            $"--expert-parallel {ExpertParallel} does not divide the {config.Experts} experts of {config.Name}; use a divisor of {config.Experts}.");
        Require(Batch >= Ranks, $"--batch {Batch} gives some of the {Ranks} ranks no sequence to train on; pass --batch {Ranks} or more (a multiple of {Ranks} balances them).");
        Require(!(Resume && Overwrite), "--resume and --overwrite contradict each other; pass one of them.");
        Require(Schedule is "rsqrt" or "cosine", $"--schedule must be rsqrt or cosine; got '{Schedule}'.");
        Require(Optimizer is "adafactor" or "adamw", $"--optimizer must be adafactor or adamw; got '{Optimizer}'.");
        Require(Objective is "ul2" or "causal" or "ul2-then-causal", $"--objective must be ul2, causal or ul2-then-causal; got '{Objective}'.");
        if (Routing is { } routing)
            Model.Routing.RoutingOverride.Parse(routing);   // a bad rule is named now, before the run folder is touched
        if (InitFrom is { } init && !File.Exists(init) && !Directory.Exists(init))
            throw new FileNotFoundException($"--init-from '{init}' does not exist; pass a checkpoint of {config.Name} (e.g. written by openmoe upcycle).", init);
        if (ReplayRouting is { } replay && !File.Exists(replay))
            throw new FileNotFoundException($"--replay-routing '{replay}' does not exist; pass a recording written by eval --record-routing.", replay);
    }

    /// <summary>
    /// The memory plan of this run on <paramref name="device"/> (fp32, the only precision training runs in);
    /// of one rank in a parallel run: its share of the experts and the most rows of any rank.
    /// </summary>
    public Planning.MemoryPlan Plan(ComputeDevice device) => Planning.MemoryPlanner.Plan(
        new Planning.PlanRequest(Model.Specs.ModelSpecs.Find(Spec), Planning.Precision.Fp32, (Batch + Ranks - 1) / Ranks, SequenceLength)
        {
            Optimizer = Optimizer, ExpertParallel = ExpertParallel,
        },
        Planning.DeviceMemory.Of(device), hostIsDevice: device.Kind == DeviceKind.Cpu);

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    /// <summary>The learning-rate schedule these options describe.</summary>
    public ILearningRateSchedule CreateSchedule() => Schedule switch
    {
        "rsqrt" => new InverseSqrtSchedule(LearningRate * Math.Sqrt(Math.Max(1, Warmup)), Math.Max(1, Warmup)),
        "cosine" => new CosineSchedule(LearningRate, Warmup, Steps),
        _ => throw new ArgumentException($"Unknown schedule '{Schedule}'; use rsqrt or cosine."),
    };
}
