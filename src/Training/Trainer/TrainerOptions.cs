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
    /// <summary>Tokenizer: a BPE vocabulary name, a SentencePiece model file, or null for the byte tokenizer (<see cref="Tokenization.Tokenizers.Open"/>).</summary>
    public string? Tokenizer { get; init; }
    /// <summary>A routing rule over the spec's (<c>--routing</c>, syntax of <see cref="Model.Routing.RoutingOverride"/>); null = the spec's.</summary>
    public string? Routing { get; init; }
    /// <summary>A routing recording whose decisions every step replays, in order (<c>--replay-routing</c>); null = route fresh.</summary>
    public string? ReplayRouting { get; init; }

    /// <summary>The learning-rate schedule these options describe.</summary>
    public ILearningRateSchedule CreateSchedule() => Schedule switch
    {
        "rsqrt" => new InverseSqrtSchedule(LearningRate * Math.Sqrt(Math.Max(1, Warmup)), Math.Max(1, Warmup)),
        "cosine" => new CosineSchedule(LearningRate, Warmup, Steps),
        _ => throw new ArgumentException($"Unknown schedule '{Schedule}'; use rsqrt or cosine."),
    };
}
