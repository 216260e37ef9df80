namespace OpenMoE.Analysis;

/// <summary>Every figure of one analysis run; serialised as <c>analysis.json</c> and rendered as plots and Markdown.</summary>
/// <remarks><c>Upcycling</c> is the from-scratch vs upcycled comparison (<see cref="UpcyclingContrast.Attach"/>), null when none was asked for.</remarks>
public sealed record AnalysisReport(
    RunDescription Run,
    IReadOnlyList<TokenSpecializationLayer> TokenSpecialization,
    LabelSpecialization LabelSpecialization,
    EarlyLearning EarlyLearning,
    DropAnalysis Drops,
    IReadOnlyList<Finding> Findings,
    ControlRun Controls,
    IReadOnlyList<ControlledFigure> Figures,
    IReadOnlyList<MeasureLayer> Measures,
    IReadOnlyList<ReplayDataSet> Replay,
    UpcyclingComparison? Upcycling = null);

/// <summary>Which controls ran and how the intervals were made.</summary>
/// <param name="Untrained">Label of the untrained control (a random initialisation of the same spec).</param>
/// <param name="UntrainedIsOwnInit">True when the control is the analysed run's own initialisation (its seed is recorded in the checkpoint or given with --init-seed).</param>
/// <param name="ShuffleSeed">Seed of the within-sequence permutations of the context-shuffled control.</param>
/// <param name="Replicates">Bootstrap resamples of the sequences per interval.</param>
/// <param name="Sequences">Sequences (rows) of the pre-training mixture the intervals resample.</param>
/// <param name="Rule">The verdict rule, as stated in the report.</param>
public sealed record ControlRun(string Untrained, bool UntrainedIsOwnInit, ulong ShuffleSeed, int Replicates, int Sequences, string Rule);

/// <summary>Counterfactual capacity replay of one data set's recorded router outputs (<see cref="CapacityReplay"/>).</summary>
/// <param name="Name">Data set name.</param>
/// <param name="CapacityRule">Rule the capacity policies used.</param>
/// <param name="Cases">One per (policy, capacity factor).</param>
public sealed record ReplayDataSet(string Name, string CapacityRule, IReadOnlyList<ReplayCase> Cases);

/// <summary>What was analysed and how.</summary>
/// <param name="Spec">Model spec name.</param>
/// <param name="Models">Analysed models, oldest first; the last is the final one.</param>
/// <param name="Device">Device description.</param>
/// <param name="Data">Data spec path.</param>
/// <param name="Tokenizer">Tokenizer description.</param>
/// <param name="Batches">Batches per data set.</param>
/// <param name="BatchSize">B.</param>
/// <param name="SequenceLength">T.</param>
/// <param name="Seed">Data pipeline seed.</param>
/// <param name="TextTokens">Document tokens analysed per model on the pre-training mixture (BOS and padding excluded).</param>
/// <param name="Experts">E.</param>
/// <param name="TopK">K.</param>
/// <param name="MoeLayers">Decoder indices of the MoE layers.</param>
/// <param name="Seconds">Wall time of the analysis.</param>
public sealed record RunDescription(
    string Spec, IReadOnlyList<ModelLabel> Models, string Device, string Data, string Tokenizer,
    int Batches, int BatchSize, int SequenceLength, ulong Seed, long TextTokens,
    int Experts, int TopK, IReadOnlyList<int> MoeLayers, double Seconds);

/// <summary>One analysed model: a label (checkpoint path or "random init, seed N") and its training step when known.</summary>
public sealed record ModelLabel(string Label, long? Step);

/// <summary>Token-id and position-id specialization of one MoE layer (see <see cref="ExpertSpread"/> for the definitions).</summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="MinCount">Token ids seen fewer times are left out.</param>
/// <param name="TokenIds">Token ids counted (seen at least <paramref name="MinCount"/> times).</param>
/// <param name="TokenSpreadTop1">RMS specialization over token ids, top-1 choices.</param>
/// <param name="TokenSpreadTopK">RMS specialization over token ids, all K choices.</param>
/// <param name="TokenBaseline">Uniform-routing baseline for the token ids: sqrt(mean 1/n).</param>
/// <param name="PositionSpreadTop1">RMS specialization over position ids, top-1.</param>
/// <param name="PositionSpreadTopK">RMS specialization over position ids, all K choices.</param>
/// <param name="PositionBaseline">Uniform-routing baseline for the position ids.</param>
/// <param name="Tokens">Every counted token id, most frequent first.</param>
/// <param name="TopTokensPerExpert">Per expert, the token ids it received most often (top-k assignments).</param>
public sealed record TokenSpecializationLayer(
    int Layer, int MinCount, int TokenIds,
    double TokenSpreadTop1, double TokenSpreadTopK, double TokenBaseline,
    double PositionSpreadTop1, double PositionSpreadTopK, double PositionBaseline,
    IReadOnlyList<TokenRouting> Tokens, IReadOnlyList<IReadOnlyList<ExpertToken>> TopTokensPerExpert);

/// <summary>One token id's routing in one layer.</summary>
/// <param name="Id">Token id.</param>
/// <param name="Text">Decoded, printable.</param>
/// <param name="Count">Occurrences.</param>
/// <param name="SpecializationTop1">Normalised spread of its top-1 distribution.</param>
/// <param name="SpecializationTopK">Normalised spread of its top-k distribution.</param>
/// <param name="Top1">Top-1 count per expert. // [E]</param>
/// <param name="TopK">Top-k count per expert. // [E]</param>
public sealed record TokenRouting(int Id, string Text, long Count, double SpecializationTop1, double SpecializationTopK, long[] Top1, long[] TopK);

/// <summary>A token an expert received often.</summary>
/// <param name="Id">Token id.</param>
/// <param name="Text">Decoded, printable.</param>
/// <param name="Count">Assignments of this token to the expert (any rank).</param>
/// <param name="ShareOfToken">That count over the token's occurrences: how much of the token this expert takes.</param>
public sealed record ExpertToken(int Id, string Text, long Count, double ShareOfToken);

/// <summary>Domain, language and position-bucket specialization, one table per MoE layer each.</summary>
public sealed record LabelSpecialization(
    IReadOnlyList<LabelShareTable> Domain, IReadOnlyList<LabelShareTable> Language, IReadOnlyList<LabelShareTable> Position);

/// <summary>
/// Top-k assignments of one MoE layer counted by label. <c>Lift[l][e] = P(e | l) / P(e)</c>: how much
/// more (above 1) or less (below 1) expert e is used on tokens of label l than overall; equivalently
/// <c>P(l | e) / P(l)</c>.
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Kind">"domain", "language" or "position".</param>
/// <param name="Labels">Label names (labels never seen are left out).</param>
/// <param name="Counts">Assignments per label and expert. // [L][E]</param>
/// <param name="LabelShare">P(l): share of all assignments with label l. // [L]</param>
/// <param name="ExpertShare">P(e): share of all assignments that went to expert e. // [E]</param>
/// <param name="ExpertShareByLabel">P(e | l). // [L][E]</param>
/// <param name="Lift">P(e | l) / P(e), 0 where the expert got nothing. // [L][E]</param>
/// <param name="TotalVariation">0.5 * sum_e |P(e | l) - P(e)| per label: 0 = routed like everything else. // [L]</param>
public sealed record LabelShareTable(
    int Layer, string Kind, IReadOnlyList<string> Labels, long[][] Counts, double[] LabelShare, double[] ExpertShare,
    double[][] ExpertShareByLabel, double[][] Lift, double[] TotalVariation);

/// <summary>Agreement of every checkpoint's top-1 choices with the final checkpoint's, on the same tokens.</summary>
/// <param name="Available">False with one model (nothing to compare).</param>
/// <param name="Points">One point per (checkpoint, layer), checkpoints oldest first.</param>
/// <param name="ChosenTokens">A few frequent tokens' top-1 distributions at every checkpoint.</param>
/// <param name="EarlyCheckpoint">Index of the checkpoint the early-learning finding uses (the latest at or before half of the final step), or null.</param>
public sealed record EarlyLearning(bool Available, IReadOnlyList<AgreementPoint> Points, IReadOnlyList<TokenOverTime> ChosenTokens, int? EarlyCheckpoint);

/// <summary>One checkpoint's agreement in one layer.</summary>
/// <param name="Checkpoint">Index into <see cref="RunDescription.Models"/>.</param>
/// <param name="Label">Checkpoint label.</param>
/// <param name="Step">Training step when known.</param>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Agreement">Fraction of text-token occurrences whose top-1 expert equals the final checkpoint's.</param>
/// <param name="Chance">Agreement two independent routings with these top-1 expert shares would have: sum_e p_e q_e.</param>
/// <param name="TokenIdAgreement">
/// Fraction of token ids (seen at least min-count times) whose most frequent top-1 expert is the same
/// as at the final checkpoint: the token-id -> expert mapping itself.
/// </param>
/// <param name="TopKOverlap">Mean share of a token's top-k experts that the final checkpoint also chose, <c>|S ∩ S_final| / K</c>.</param>
public sealed record AgreementPoint(int Checkpoint, string Label, long? Step, int Layer, double Agreement, double Chance, double TokenIdAgreement, double TopKOverlap);

/// <summary>One chosen token's top-1 distribution over experts per checkpoint, in one layer.</summary>
/// <param name="Id">Token id.</param>
/// <param name="Text">Decoded, printable.</param>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Distributions">Per checkpoint (oldest first), the share of its occurrences with each top-1 expert. // [checkpoints][E]</param>
public sealed record TokenOverTime(int Id, string Text, int Layer, double[][] Distributions);

/// <summary>Drop ratio by position, per data set and layer.</summary>
/// <param name="Dropless">True when the spec never drops (capacity = group size).</param>
/// <param name="CapacityRule">Capacity rule name.</param>
/// <param name="CapacityFactor">Capacity factor used.</param>
/// <param name="MinCapacity">Smallest capacity.</param>
/// <param name="TokensPerGroup">Tokens per routing group (the whole batch).</param>
/// <param name="Capacity">Capacity per expert and group that this produced.</param>
/// <param name="Buckets">Position buckets; bucket b covers positions [b*T/buckets, (b+1)*T/buckets).</param>
/// <param name="DataSets">One entry per data set analysed.</param>
public sealed record DropAnalysis(
    bool Dropless, string CapacityRule, double CapacityFactor, int MinCapacity, int TokensPerGroup, int Capacity, int Buckets,
    IReadOnlyList<DropDataSet> DataSets);

/// <summary>Drops on one data set.</summary>
/// <param name="Name">Data set name.</param>
/// <param name="TextTokens">Document tokens counted.</param>
/// <param name="DropRatio">Dropped over all assignments of text tokens, averaged over layers.</param>
/// <param name="MeanByBucket">Drop ratio per position bucket averaged over layers. // [buckets]</param>
/// <param name="Layers">Per MoE layer.</param>
public sealed record DropDataSet(string Name, long TextTokens, double DropRatio, double[] MeanByBucket, IReadOnlyList<DropLayer> Layers);

/// <summary>Drops of one layer on one data set.</summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="DropRatio">Dropped assignments over K * text tokens.</param>
/// <param name="ByBucket">Drop ratio per position bucket. // [buckets]</param>
/// <param name="LostAllChoices">Fraction of text tokens whose every choice was dropped.</param>
public sealed record DropLayer(int Layer, double DropRatio, double[] ByBucket, double LostAllChoices);

/// <summary>One of the paper's findings as measured here.</summary>
/// <param name="Name">Short name.</param>
/// <param name="Verdict">"reproduces", "does not reproduce", "partly reproduces" or "not measured".</param>
/// <param name="Summary">Two or three sentences with the numbers.</param>
public sealed record Finding(string Name, string Verdict, string Summary);
