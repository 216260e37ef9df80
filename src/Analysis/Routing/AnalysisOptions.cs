namespace OpenMoE.Analysis;

/// <summary>How much data the analysis streams and how it summarises it.</summary>
public sealed record AnalysisOptions
{
    /// <summary>Batches per data set (and per checkpoint).</summary>
    public int Batches { get; init; } = 4;
    /// <summary>Rows per batch B (the whole batch is one routing group, as in OpenMoE).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Sequence length T (at most the spec's context length).</summary>
    public int SequenceLength { get; init; } = 256;
    /// <summary>Data pipeline seed: every model sees exactly the same tokens.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Token ids seen fewer times are left out of the token-id statistics.</summary>
    public int MinCount { get; init; } = 8;
    /// <summary>Equal-width position buckets for position specialization and drops.</summary>
    public int PositionBuckets { get; init; } = 8;
    /// <summary>Most frequent tokens listed per expert.</summary>
    public int TopTokensPerExpert { get; init; } = 10;
    /// <summary>Frequent tokens whose distributions are followed across checkpoints.</summary>
    public int ChosenTokens { get; init; } = 4;
    /// <summary>Capacity factor; null = the spec's training factor (where drops matter, 1.25 for OpenMoE).</summary>
    public double? CapacityFactor { get; init; }
    /// <summary>Domain of the held-out instruction data set compared against the pre-training mixture.</summary>
    public string InstructionDomain { get; init; } = "instruction";

    /// <summary>Bootstrap resamples of the sequences per interval (at least <see cref="MinReplicates"/>: the verdicts compare intervals).</summary>
    public int Replicates { get; init; } = Bootstrap.DefaultReplicates;
    /// <summary>
    /// Initialisation seed of the untrained control when the analysed model does not record its own
    /// (the trainer's default seed is 1, so by default this is a default-seeded run's own initialisation).
    /// </summary>
    public ulong ControlSeed { get; init; } = 1;
    /// <summary>Counterfactual capacity replay (<see cref="CapacityReplay"/>) of the recorded router outputs.</summary>
    public bool Replay { get; init; }
    /// <summary>Capacity factors the replay tries for each capacity policy.</summary>
    public IReadOnlyList<double> ReplayFactors { get; init; } = [0.5, 1.0, 1.25, 2.0];

    /// <summary>Fewest resamples: with fewer the standard error, and so every interval, is too noisy to compare.</summary>
    public const int MinReplicates = 20;

    /// <summary>Throws with a message that says what to change.</summary>
    public AnalysisOptions Validated(int contextLength)
    {
        if (Batches < 1 || BatchSize < 1)
            throw new ArgumentException($"--batches and --batch must be at least 1 (got {Batches} and {BatchSize}).");
        if (SequenceLength < 16 || SequenceLength > contextLength)
            throw new ArgumentException($"--seq must lie in 16..{contextLength} (the spec's context length); got {SequenceLength}.");
        if (PositionBuckets < 1 || PositionBuckets > SequenceLength)
            throw new ArgumentException($"--position-buckets must lie in 1..{SequenceLength}; got {PositionBuckets}.");
        if (MinCount < 1 || TopTokensPerExpert < 1 || ChosenTokens < 0)
            throw new ArgumentException("--min-count and the token list sizes must be positive.");
        if (CapacityFactor is < 0 or double.NaN or double.PositiveInfinity)
            throw new ArgumentException($"--capacity-factor must be finite and non-negative; got {CapacityFactor}.");
        if (Replicates < MinReplicates)
            throw new ArgumentException($"--bootstrap must be at least {MinReplicates} resamples (every verdict compares intervals); got {Replicates}.");
        if (ReplayFactors.Count == 0 || ReplayFactors.Any(f => !(f >= 0) || double.IsInfinity(f)))
            throw new ArgumentException($"--replay-factors must be finite, non-negative capacity factors; got {string.Join(",", ReplayFactors)}.");
        return this;
    }
}
