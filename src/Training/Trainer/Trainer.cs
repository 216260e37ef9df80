using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using System.Diagnostics;
using OpenMoE.Training.Data;
using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Training.Objectives;
using OpenMoE.Model.Specs;
using OpenMoE.Training.Tokenization;
using OpenMoE.Runtime.Devices;
using OpenMoE.Model.Parallel;
using OpenMoE.Runtime.Communication;

namespace OpenMoE.Training;

/// <summary>
/// The training loop: packed batches from the data pipeline, forward/backward on the device,
/// global-norm clipping and the optimizer on the device's buffers (only the batch goes to the device
/// and a few scalars come back), metrics.jsonl, and checkpoints through <see cref="ITrainingStore"/>. Deterministic given the options: on the CPU
/// accelerator a run of N steps equals k steps plus a resume for N - k, bit for bit. After the first
/// step of a run, a step allocates no device memory and no managed memory of its own (the data
/// pipeline's batch and checkpoints aside; docs/benchmarks.md, Training step throughput, says what is counted).
/// Under expert and data parallelism (<see cref="TrainerOptions.ExpertParallel"/> x <see cref="TrainerOptions.DataParallel"/>
/// ranks of a communicator) every rank runs this loop on the same data stream: rank r of P trains on
/// rows [r*B/P, (r+1)*B/P) of each global batch of B, the ranks of a replica route together, gradients
/// are averaged over the replicas, rank 0 alone owns the run folder and writes metrics.jsonl, and the
/// checkpoints are saved by all ranks together (docs/parallelism.md). A rank that throws outside a
/// collective (its memory plan, a non-finite router logit) leaves its peers waiting in the next one, so
/// a parallel trainer runs under <see cref="RankFailures.Run"/>, which aborts the job (as <c>openmoe train</c> does).
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainerOptions _options;
    private readonly ComputeDevice _device;
    private readonly ITrainingStore _store;
    private readonly DataPipeline _pipeline;
    private readonly DeviceParameters _parameters;
    private readonly IOptimizer _optimizer;
    private readonly ILearningRateSchedule _schedule;
    private readonly TrainingNetwork _network;
    private readonly GradientClipping? _clipping;
    private readonly ParallelLayout? _layout;
    private readonly ParallelGradients? _parallelGradients;
    private readonly int[] _inputs;
    private readonly double _capacityFactor;
    private readonly int[] _targets;
    private readonly RunFolder? _folder;
    private readonly List<string> _notes = [];
    private long _lastCheckpoint;

    /// <summary>
    /// Sets up a run on <paramref name="device"/> (owned by the caller); resumes when the options say so.
    /// Validates the options and reads the inputs, then locks the run folder (<see cref="RunFolder"/>) before anything else.
    /// A parallel run (<see cref="TrainerOptions.Ranks"/> > 1) is one rank of <paramref name="world"/>, whose size must be that.
    /// </summary>
    public Trainer(TrainerOptions options, ComputeDevice device, ITrainingStore? store = null, ICommunicator? world = null)
    {
        options.Validate();
        _options = options;
        _device = device;
        Spec = ModelSpecs.Find(options.Spec);
        var config = Spec.Config;
        // Inputs are read before the run folder is touched, so a typo in --data or --tokenizer leaves no folder behind.
        Tokenizer = Tokenizers.Open(options.Tokenizer, config.Vocab);
        var data = DataSpec.Load(options.Data);
        options.Plan(device).Require(options.Optimizer == "adamw"
            ? "Lower --batch or --seq, use --optimizer adafactor (factored state), or a smaller --spec."
            : "Lower --batch or --seq, or use a smaller --spec.");
        if (options.Ranks > 1)
            _layout = new ParallelLayout(world ?? throw new ArgumentException($"A run on {options.Ranks} ranks needs the job's communicator."), options.ExpertParallel, options.DataParallel);
        bool leader = _layout is null || _layout.World.Rank == 0;
        try
        {
            // Rank 0 owns the run folder (lock, --overwrite, leftovers); the other ranks start once it is ready.
            _folder = leader ? RunFolder.Open(options.Out, options.Resume, options.Overwrite) : null;
            _layout?.World.Barrier();
            _notes.AddRange(_folder?.Notes ?? []);
            _store = store ?? new CheckpointTrainingStore(Spec, options.Out, options.KeepCheckpoints == 0 ? int.MaxValue : options.KeepCheckpoints, layout: _layout);
            var objectives = ObjectiveSchedule.Parse(options.Objective, Tokenizer, options.SwitchStep ?? Math.Max(1, options.Steps / 2));
            _pipeline = new DataPipeline(data.Sources, data.Mixture, objectives, Tokenizer, options.SequenceLength, options.Seed);
            _capacityFactor = options.CapacityFactor ?? config.TrainCapacityFactor;
            _schedule = options.CreateSchedule();

            // Its tensors stream from the checkpoint's files while the weights and optimizer state are uploaded below.
            using var checkpoint = options.Resume ? _store.LoadLatest() : null;
            if (_store is CheckpointTrainingStore { Skipped: var skipped })
                _notes.AddRange(skipped);
            if (options.Resume && checkpoint is null)
                throw new ArgumentException($"--resume: there is no checkpoint in {Path.Combine(options.Out, RunFolder.CheckpointsFolderName)}; start without --resume.");
            if (_layout is not null && _layout.World.AllGather(checkpoint?.State.Step ?? -1) is var steps && steps.Distinct().Count() > 1)
                throw new ArgumentException($"--resume: the ranks found different latest checkpoints in {options.Out} (steps {string.Join(", ", steps)}); give every rank the same run folder.");
            if (checkpoint is not null)
            {
                if (checkpoint.State.Spec != config.Name || checkpoint.State.Optimizer != options.Optimizer)
                    throw new ArgumentException(
                        $"--resume: the run in {options.Out} trains {checkpoint.State.Spec} with {checkpoint.State.Optimizer}, but this command asks for {config.Name} with {options.Optimizer}; pass --spec {checkpoint.State.Spec} --optimizer {checkpoint.State.Optimizer}.");
                Tokenizers.CheckMatches(checkpoint.State.Tokenizer, options.Tokenizer, $"The checkpoint in {options.Out}");
                _pipeline.Restore(checkpoint.State.Data);
                Step = checkpoint.State.Step;
                _lastCheckpoint = Step;
            }
            using var initial = checkpoint is null && options.InitFrom is { } initFrom ? OpenInitialWeights(initFrom) : null;
            // Weights stream in chunks: no whole-tensor arrays left for the garbage collector.
            _network = new TrainingNetwork(device, Spec, DeviceWeights.Load(device, Spec, (p, sink) =>
            {
                if (checkpoint is not null)
                    checkpoint.Weights.Stream(p.Name, sink);
                else if (initial is not null)
                    initial.Stream(p, sink);
                else
                    WeightInitializer.Stream(Spec.Config, p, options.Seed, sink);
            }, _layout?.Shard(config.Experts)), _layout);
            _network.Model.RoutingOverride = options.Routing is { } routing ? RoutingOverride.Parse(routing) : null;
            if (checkpoint is not null)
            {
                if (checkpoint.State.Routing != options.Routing)
                    throw new ArgumentException(
                        $"The checkpoint was trained with --routing {checkpoint.State.Routing ?? "(the spec's)"}; resume with the same rule (this run asks for {options.Routing ?? "the spec's"}).");
                foreach (var (layer, bias) in checkpoint.ExpertBias ?? new Dictionary<int, float[]>())
                    bias.CopyTo(_network.Model.ExpertBias[layer], 0);
            }
            if (options.ReplayRouting is { } replay)
                _network.ReplayRouting = new RoutingReplay(RoutingRecordingFile.Read(replay), Spec.Name, Spec.SpecHash);
            _parameters = DeviceParameters.Of(_network);
            // Under expert parallelism a stacked expert tensor is split over the replica's ranks.
            var split = _layout?.Experts is { } experts
                ? new SplitTensors(experts.Communicator, Array.ConvertAll(_parameters.Infos, ExpertTensors.IsStacked))
                : null;
            _optimizer = Optimizers.Create(options.Optimizer, device, _parameters.Infos, split);
            if (checkpoint is not null)
                _optimizer.Restore(checkpoint.Optimizer);
            if (_layout is null)
                _clipping = new GradientClipping(device, _parameters);
            else
                _parallelGradients = new ParallelGradients(device, _layout, _parameters);
            var (_, rows) = RowsOfRank();
            _inputs = new int[rows * options.SequenceLength];
            _targets = new int[rows * options.SequenceLength];
        }
        catch
        {
            // The caller holds the device, not this half-made trainer: give back what it allocated.
            _clipping?.Dispose();
            _optimizer?.Dispose();
            _network?.Dispose();
            _folder?.Dispose();
            _layout?.Dispose();
            throw;
        }
    }

    // The spec and checksums are checked by WeightFile; the tokenizer here, as a resume checks its own.
    private WeightFile OpenInitialWeights(string path)
    {
        var file = WeightFile.Open(path, Spec);
        try
        {
            if (file.Checkpoint?.Metadata.Extra is { } extra)
                Tokenizers.CheckMatches(CheckpointTrainingStore.RecordedTokenizer(extra), _options.Tokenizer, $"--init-from {path}");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>What setting up the run did that the user should know: a stale lock taken over, leftovers removed, damaged checkpoints skipped.</summary>
    public IReadOnlyList<string> RunNotes => _notes;

    /// <summary>The spec trained.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The tokenizer of the data.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>Updates completed so far.</summary>
    public long Step { get; private set; }

    /// <summary>Number of trained parameters.</summary>
    public long ParameterCount => Spec.TotalParams;

    /// <summary>This rank's rows of every global batch: [First, First + Count) (all of them in one process).</summary>
    private (int First, int Count) RowsOfRank()
    {
        int b = _options.Batch, ranks = _options.Ranks, rank = _layout?.World.Rank ?? 0;
        int first = (int)((long)b * rank / ranks);
        return (first, (int)((long)b * (rank + 1) / ranks) - first);
    }

    /// <summary>A host copy of the current weights this rank holds, by Hugging Face name.</summary>
    public Dictionary<string, float[]> DownloadWeights() =>
        _parameters.Infos.ToDictionary(p => p.Name, _network.Weights.Download, StringComparer.Ordinal);

    /// <summary>Every MoE layer's expert bias by decoder layer (moved after each step under auxiliary-loss-free balancing). // [E] each</summary>
    public IReadOnlyDictionary<int, float[]> ExpertBias => _network.Model.ExpertBias;

    /// <summary>Name of the GEMM provider in use.</summary>
    public string GemmName => _network.GemmName;

    /// <summary>
    /// Trains until <see cref="TrainerOptions.Steps"/>, calling <paramref name="onStep"/> after each step.
    /// Throws <see cref="TrainingDivergedException"/> (without applying the step) when the loss or gradient is not finite.
    /// </summary>
    public void Run(Action<StepReport>? onStep = null, CancellationToken cancel = default)
    {
        // One metrics log for the job: rank 0's.
        using var metrics = _folder is not null ? new MetricsLog(_options.Out, Step) : null;
        while (Step < _options.Steps && !cancel.IsCancellationRequested)
        {
            long start = Stopwatch.GetTimestamp();
            var batch = _pipeline.NextBatch(_options.Batch, Step);
            var report = TrainStep(batch, metrics, start);
            if ((_options.CheckpointEvery > 0 && report.Step % _options.CheckpointEvery == 0) || report.Step == _options.Steps)
                Save(report.Loss);
            onStep?.Invoke(report);
        }
    }

    /// <summary>
    /// One update from <paramref name="batch"/> ([Batch, SequenceLength] of the options), logged to
    /// <paramref name="metrics"/>; <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>)
    /// is when the step began, for tokens/s. Allocates nothing once a first step has run.
    /// </summary>
    internal StepReport TrainStep(PackedBatch batch, MetricsLog? metrics, long startTimestamp)
    {
        long step = Step + 1;
        int tokens = _options.Batch * _options.SequenceLength;
        var (firstRow, rows) = RowsOfRank();
        int from = firstRow * _options.SequenceLength;
        for (int i = 0; i < _targets.Length; i++)
        {
            _inputs[i] = batch.Inputs[from + i];
            _targets[i] = batch.LossMask[from + i] != 0 ? batch.Labels[from + i] : -1;
        }
        var experts = _layout?.Experts;
        long rowsBefore = experts?.RowsSent ?? 0, bytesBefore = experts?.BytesSent ?? 0;
        StepLosses losses;
        long phase = Stopwatch.GetTimestamp();
        try
        {
            losses = _network.ForwardBackward(_inputs, _targets, rows, _capacityFactor);
        }
        catch (NonFiniteValuesException)
        {
            throw new TrainingDivergedException(step, _lastCheckpoint > 0 ? _lastCheckpoint : null, _options.Out);
        }
        double forwardBackward = Stopwatch.GetElapsedTime(phase).TotalSeconds;
        phase = Stopwatch.GetTimestamp();
        double norm = _parallelGradients?.ReduceAndClip(_parameters, _options.ClipNorm) ?? _clipping!.Clip(_parameters, _options.ClipNorm);
        if (!double.IsFinite(losses.Total) || !double.IsFinite(norm))
            throw new TrainingDivergedException(step, _lastCheckpoint > 0 ? _lastCheckpoint : null, _options.Out);
        double lr = _schedule.At(step);
        _optimizer.Step(_parameters, step, lr);
        _device.Synchronize();
        _network.UpdateExpertBias();
        Step = step;

        var timings = new StepTimings(forwardBackward, losses.ForwardSeconds, Stopwatch.GetElapsedTime(phase).TotalSeconds);
        var report = new StepReport(step, losses.Total, losses.CrossEntropy, losses.LoadBalancing, losses.ZLoss, lr, norm,
            tokens / Math.Max(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, 1e-9), tokens, losses.MoeLayers, timings)
        {
            Ranks = _layout is null ? null
                : RankTraffic.Gather(_layout.World, _inputs.Length, (experts?.RowsSent ?? 0) - rowsBefore, (experts?.BytesSent ?? 0) - bytesBefore),
        };
        metrics?.Write(report);
        return report;
    }

    /// <summary>
    /// Mean cross-entropy over the target tokens of <paramref name="batches"/> at the spec's evaluation
    /// capacity factor (2.0 for OpenMoE). Uses the training forward; the gradients it computes are not applied.
    /// </summary>
    public double EvaluateLoss(IEnumerable<PackedBatch> batches)
    {
        if (_layout is not null)
            throw new InvalidOperationException("The demo's evaluation runs in one process.");
        double sum = 0;
        long count = 0;
        foreach (var batch in batches)
        {
            var targets = batch.Labels.Select((label, i) => batch.LossMask[i] != 0 ? label : -1).ToArray();
            var losses = _network.ForwardBackward(batch.Inputs, targets, batch.Batch, Spec.Config.EvalCapacityFactor);
            sum += losses.CrossEntropy * losses.Targets;
            count += losses.Targets;
        }
        return sum / Math.Max(1, count);
    }

    /// <summary>Saves the current step through the store.</summary>
    public void Save(double lastLoss = double.NaN)
    {
        // Read tensor by tensor as the checkpoint writer reaches them: no whole-model copy on the host.
        var weights = TensorReads.FromDevice(_device, Array.ConvertAll(_parameters.Infos, p => (p.Name, _network.Weights[p])));
        var state = new TrainingState
        {
            Step = Step, Spec = Spec.Name, Optimizer = _optimizer.Name, Seed = _options.Seed, Data = _pipeline.State,
            LastLoss = double.IsFinite(lastLoss) ? lastLoss : 0, Tokenizer = Tokenizers.RecordedName(_options.Tokenizer), Routing = _options.Routing,
        };
        var bias = _network.Model.ExpertBias.ToDictionary(b => b.Key, b => (float[])b.Value.Clone());
        try
        {
            _store.Save(new TrainingCheckpoint(state, weights, _optimizer.DownloadState(), bias));
        }
        catch (IOException ex)
        {
            string lastGood = _lastCheckpoint > 0
                ? $"The last good checkpoint is step {_lastCheckpoint} in {Path.Combine(_options.Out, RunFolder.CheckpointsFolderName)}; after fixing this, continue with the same command and --resume."
                : "No checkpoint of this run was saved before; after fixing this, start the run again.";
            throw new RunFolderException($"Saving the checkpoint of step {Step} failed: {ex.Message} {lastGood}", ex);
        }
        _lastCheckpoint = Step;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _clipping?.Dispose();
        _optimizer.Dispose();
        _network.Dispose();
        _folder?.Dispose();
        _layout?.Dispose();
    }
}
