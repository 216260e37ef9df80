using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
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
/// </summary>
public sealed class MoeTransformer : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly IGemmProvider _gemm;
    private readonly DeviceRouter _router;
    private readonly Workspace _workspace;
    private readonly DecoderLayer[] _layers;
    private readonly ArrayView<float> _embedding;
    private readonly ArrayView<float> _finalNorm;
    private readonly Projection _lmHead;

    /// <summary>Builds the network over <paramref name="weights"/> (which it then owns) on <paramref name="device"/>.</summary>
    public MoeTransformer(ComputeDevice device, ModelSpecInfo spec, DeviceWeights weights)
    {
        _device = device;
        Spec = spec;
        Weights = weights;
        _gemm = GemmProviders.Create(device.Accelerator);
        _router = new DeviceRouter(device.Accelerator);
        _workspace = new Workspace(device);
        var config = spec.Config;
        _layers = Enumerable.Range(0, config.Layers).Select(l => new DecoderLayer(config, weights, l)).ToArray();
        _embedding = weights.Get(-1, ParameterRole.Embedding);
        _finalNorm = weights.Get(-1, ParameterRole.FinalNorm);
        var head = config.TiedEmbeddings ? _embedding : weights.Get(-1, ParameterRole.LmHead);
        _lmHead = Projection.Linear(head, config.Hidden, config.Vocab);
    }

    /// <summary>The spec this network was built for.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The parameters on the device.</summary>
    public DeviceWeights Weights { get; }

    /// <summary>The device it runs on.</summary>
    public ComputeDevice Device => _device;

    /// <summary>Name of the GEMM provider in use (for logs).</summary>
    public string GemmName => _gemm.Name;

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
        options ??= new ForwardOptions();
        var config = Spec.Config;
        int time = CheckTokens(tokens, batch, cache);
        int n = batch * time, d = config.Hidden;
        var routing = RoutingOptions.FromConfig(config, options.Training) is var fromSpec && options.CapacityFactor is double cf
            ? fromSpec with { CapacityFactor = cf }
            : fromSpec;

        var tokenView = _workspace.Get<int>("tokens", n);
        tokenView.CopyFromCPU(tokens);
        var x = _workspace.Get<float>("x", (long)n * d);
        var h = _workspace.Get<float>("h", (long)n * d);
        _device.Ops.Embedding(tokenView, _embedding, x, n, d, config.Vocab);

        var traces = new List<MoeLayerTrace>();
        var context = new LayerContext(_device, _gemm, _router, _workspace, batch, time, cache, routing, options.CollectTrace);
        foreach (var layer in _layers)
        {
            if (layer.Forward(context, x, h) is { } trace)
                traces.Add(trace);
        }
        cache?.Advance(time);

        int rows = options.LastPositionOnly ? batch : n;
        var headInput = options.LastPositionOnly ? GatherLastPositions(x, batch, time) : x;
        var normed = _workspace.Get<float>("final_norm", (long)rows * d);
        _device.Ops.RmsNorm(headInput, _finalNorm, normed, rows, d, (float)config.NormEps);
        var logits = _workspace.Get<float>("logits", (long)rows * config.Vocab);
        _lmHead.Apply(_gemm, normed, logits, rows);
        _device.Synchronize();
        return new ForwardResult(logits.Download(), batch, time, config.Vocab, traces);
    }

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
        _workspace.Dispose();
        _gemm.Dispose();
        Weights.Dispose();
    }
}
