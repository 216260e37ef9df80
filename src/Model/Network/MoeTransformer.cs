using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Communication;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// The decoder-only MoE language model of any generated spec, on one device (DESIGN §2.1):
/// <code>
/// x = embed(tokens)
/// for each layer:  x += Attn(RMSNorm(x))
///                  dense layer: x += FFN(RMSNorm(x))
///                  MoE layer:   x += MoE(RMSNorm(x)); OpenMoE: then x += ExtraFFN(RMSNorm_extra(x))
/// logits = LMHead(RMSNorm_final(x))
/// </code>
/// The one network: inference, evaluation and generation call <see cref="Forward"/>; training
/// (<see cref="TrainingNetwork"/>) runs the same layers with a pass that keeps their activations,
/// then their backwards.
/// </summary>
public sealed class MoeTransformer : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly IGemmProvider _gemm;
    private readonly DeviceRouter _router;
    private readonly Workspace _workspace;
    private readonly SpecKernels _specialised, _runtimeSize;
    private RoutingOverride? _routingOverride;

    /// <summary>
    /// Builds the network over <paramref name="weights"/> (which it then owns) on <paramref name="device"/>.
    /// With <paramref name="parallel"/>, this is one expert-parallel rank: the weights hold its expert
    /// shard (<see cref="ExpertParallelism.Shard"/>) and every forward is a collective of all its ranks.
    /// </summary>
    public MoeTransformer(ComputeDevice device, ModelSpecInfo spec, DeviceWeights weights, ExpertParallelism? parallel = null)
    {
        var expected = parallel?.Shard(spec.Config.Experts) ?? ExpertShard.All(spec.Config.Experts);
        if (spec.Config.Experts > 0 && weights.Experts != expected)
            throw new ArgumentException($"The weights hold {weights.Experts} but this rank needs {expected} of {spec.Config.Name}.");
        _device = device;
        Spec = spec;
        Weights = weights;
        Parallel = parallel;
        _gemm = GemmProviders.Create(device.Accelerator);
        _router = new DeviceRouter(device);
        _workspace = new Workspace(device);
        _specialised = SpecKernels.For(spec, specialised: true);
        _runtimeSize = SpecKernels.For(spec, specialised: false);
        var config = spec.Config;
        Embedding = new EmbeddingLayer(config, weights);
        Layers = Enumerable.Range(0, config.Layers).Select(l => new DecoderLayer(config, weights, l)).ToArray();
        Head = new OutputHead(config, weights);
        RoutingConfig = config;
    }

    /// <summary>The spec this network was built for.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The expert-parallel ranks this network is one of (null: one process).</summary>
    public ExpertParallelism? Parallel { get; }

    /// <summary>
    /// A routing rule chosen at run time over the spec's (<c>--routing</c>); null = the spec's. Checked
    /// against the spec when set.
    /// </summary>
    public RoutingOverride? RoutingOverride
    {
        get => _routingOverride;
        set
        {
            RoutingConfig = value?.Apply(Spec.Config) ?? Spec.Config;
            _routingOverride = value;
        }
    }

    /// <summary>The spec's config with <see cref="RoutingOverride"/> applied: what the MoE layers route by.</summary>
    public ModelConfig RoutingConfig { get; private set; }

    /// <summary>
    /// Every MoE layer's expert bias (auxiliary-loss-free balancing), by decoder layer; the arrays are the
    /// layers' own (the trainer moves them, checkpoints save and restore them). // [E] each
    /// </summary>
    public IReadOnlyDictionary<int, float[]> ExpertBias =>
        Layers.Where(l => l.Moe is not null).ToDictionary(l => l.Moe!.Layer, l => l.Moe!.ExpertBias);

    /// <summary>The parameters on the device.</summary>
    public DeviceWeights Weights { get; }

    /// <summary>The device it runs on.</summary>
    public ComputeDevice Device => _device;

    /// <summary>Name of the GEMM provider in use (for logs).</summary>
    public string GemmName => _gemm.Name;

    internal EmbeddingLayer Embedding { get; }
    internal DecoderLayer[] Layers { get; }
    internal OutputHead Head { get; }
    internal Workspace Workspace => _workspace;

    /// <summary>A KV cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions.</summary>
    public KvCache CreateCache(int batch, int capacity)
    {
        var config = Spec.Config;
        if (capacity > config.ContextLength)
            throw new ArgumentException($"A cache of {capacity} positions exceeds the context length {config.ContextLength} of {config.Name}.");
        return new KvCache(_device, config.Layers, batch, capacity, config.KvHeads, config.HeadDim);
    }

    /// <summary>
    /// tokens [B, T] -> logits [B, T, V] (see <see cref="ForwardOptions"/>). With a cache, the tokens
    /// continue the cached sequences at positions [cache.Length, cache.Length + T) and are appended to it.
    /// </summary>
    public ForwardResult Forward(int[] tokens, int batch, ForwardOptions? options = null, KvCache? cache = null)
    {
        Weights.CheckInPlace();
        options ??= new ForwardOptions();
        var config = Spec.Config;
        int time = CheckTokens(tokens, batch, cache);
        var routing = RoutingFor(options);
        options.RecordRouting?.BeginBatch(tokens, batch, time);
        options.ReplayRouting?.BeginBatch(tokens, batch, time);
        var pass = Pass(batch, time, cache, routing, options.KeepIntermediates, options.CollectTrace, stopOnNonFinite: false,
            routerLosses: options.CollectTrace, loadBalancingScale: 0, zLossScale: 0) with
        {
            Kernels = options.SizeSpecialised ? _specialised : _runtimeSize,
            RecordRouting = options.RecordRouting, ReplayRouting = options.ReplayRouting,
            Fuse = options.FusedKernels, ExpertScratchBytes = options.ExpertScratchBytes,
        };

        var tokenView = _workspace.Get<int>("tokens", pass.Tokens);
        tokenView.CopyFromCPU(tokens);
        var launches = _device.Kernels;
        long mark = launches.Launches;
        var x = Embedding.Forward(pass, tokenView);
        long embeddingLaunches = launches.Launches - mark;
        var traces = new List<MoeLayerTrace>();
        var layerLaunches = new long[Layers.Length];
        for (int l = 0; l < Layers.Length; l++)
        {
            mark = launches.Launches;
            if (Layers[l].Forward(pass, x) is { } trace)
                traces.Add(trace);
            layerLaunches[l] = launches.Launches - mark;
        }
        cache?.Advance(time);

        int rows = options.LastPositionOnly ? batch : pass.Tokens;
        mark = launches.Launches;
        var logits = Head.Forward(pass, options.LastPositionOnly ? GatherLastPositions(x, batch, time) : x, rows);
        var counted = new ForwardLaunches(embeddingLaunches, layerLaunches, launches.Launches - mark);
        _device.Synchronize();
        return new ForwardResult(logits.Download(), batch, time, config.Vocab, traces) { Launches = counted };
    }

    /// <summary>
    /// Expert parallelism: this rank's part of a forward in which it holds no sequence (the other ranks'
    /// sequences have <paramref name="time"/> positions): it routes with them and serves its experts.
    /// Returns the MoE layers' traces (the whole group's routing) when the options collect them.
    /// </summary>
    public IReadOnlyList<MoeLayerTrace> ServeExperts(int time, ForwardOptions? options = null)
    {
        Weights.CheckInPlace();
        if (Parallel is null)
            throw new InvalidOperationException("Only an expert-parallel rank serves its experts without tokens.");
        options ??= new ForwardOptions();
        if (options.RecordRouting is not null || options.ReplayRouting is not null || options.KeepIntermediates)
            throw new InvalidOperationException("Routing record, replay and intermediates run in one process.");
        var pass = Pass(0, time, null, RoutingFor(options), keepActivations: false, options.CollectTrace, stopOnNonFinite: false,
            routerLosses: options.CollectTrace, loadBalancingScale: 0, zLossScale: 0);
        var traces = new List<MoeLayerTrace>();
        foreach (var layer in Layers)
        {
            if (layer.Serve(pass) is { } trace)
                traces.Add(trace);
        }
        _device.Synchronize();
        return traces;
    }

    private RoutingOptions RoutingFor(ForwardOptions options) =>
        RoutingOptions.FromConfig(RoutingConfig, options.Training) is var fromSpec && options.CapacityFactor is double cf
            ? fromSpec with { CapacityFactor = cf }
            : fromSpec;

    /// <summary>
    /// Every named intermediate of the last forward run with <see cref="ForwardOptions.KeepIntermediates"/>,
    /// in forward order: per layer "L{l}.attn.in", ".attn.normed", ".attn.q" (after RoPE), ".attn.k",
    /// ".attn.v", ".attn.o", ".ffn.in", ".ffn.normed", ".moe.router_logits", ".extra.in", ".extra.normed"
    /// as the layer has them, then "final.x", "final.normed", "final.logits". Each is [N, *] with rows in
    /// batch-major token order ("final.*": [B, *] with <see cref="ForwardOptions.LastPositionOnly"/>).
    /// Forwards that keep nothing leave them as they were; a training step writes the same names (and
    /// leaves d loss / d logits in "final.logits").
    /// </summary>
    public IReadOnlyList<(string Name, float[] Values)> Intermediates()
    {
        _device.Synchronize();
        var names = Layers.SelectMany(layer => layer.KeptNames.Intermediates).Concat(["final.x", "final.normed", "final.logits"]);
        var result = new List<(string, float[])>();
        foreach (string name in names)
        {
            if (_workspace.TryGetLatest(name, out var view))
                result.Add((name, view.Download()));
        }
        return result;
    }

    /// <summary>
    /// The pass of one forward (and backward) of B sequences of T tokens; under expert parallelism a
    /// collective (every rank's token count is gathered).
    /// </summary>
    internal ForwardPass Pass(int batch, int time, KvCache? cache, RoutingOptions routing, bool keepActivations, bool collectTrace,
        bool stopOnNonFinite, bool routerLosses, double loadBalancingScale, double zLossScale) =>
        new(_device, _gemm, _router, _workspace, _specialised, batch, time, cache, routing, keepActivations, collectTrace, stopOnNonFinite, routerLosses,
            loadBalancingScale, zLossScale, Parallel: Parallel,
            GroupTokens: Parallel?.Communicator.AllGather(batch * time));

    private ArrayView<float> GatherLastPositions(ArrayView<float> x, int batch, int time)
    {
        int d = Spec.Config.Hidden;
        var last = _workspace.Get<float>("last_positions", (long)batch * d);
        for (int b = 0; b < batch; b++)
            x.SubView(((long)b * time + time - 1) * d, d).AsDense().CopyTo(last.SubView((long)b * d, d).AsDense());
        return last;
    }

    private int CheckTokens(int[] tokens, int batch, KvCache? cache)
    {
        var config = Spec.Config;
        if (batch < 1 || tokens.Length == 0 || tokens.Length % batch != 0)
            throw new ArgumentException($"Expected a non-empty [B, T] token array with B = {batch}; got {tokens.Length} tokens.");
        int time = tokens.Length / batch;
        int past = cache?.Length ?? 0;
        if (cache is not null && cache.Batch != batch)
            throw new ArgumentException($"The KV cache was made for batch {cache.Batch}, not {batch}.");
        if (past + time > config.ContextLength)
            throw new ArgumentException(
                $"Sequence length {past + time} exceeds the context length {config.ContextLength} of {config.Name}. Use shorter sequences.");
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)config.Vocab)
                throw new ArgumentException(
                    $"Token id {tokens[i]} at index {i} is outside the vocabulary [0, {config.Vocab}) of {config.Name}.");
        }
        return time;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var layer in Layers)
            layer.Dispose();
        _workspace.Dispose();
        _gemm.Dispose();
        Weights.Dispose();
    }
}
