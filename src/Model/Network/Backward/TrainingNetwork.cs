using System.Collections.Immutable;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Kernels.Backward;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network.Backward;

/// <summary>
/// Forward and backward of the whole network on the device, for training. The forward is the
/// same math as <see cref="MoeTransformer.Forward"/> (full sequences, no cache) but keeps every
/// activation the backward needs under layer-scoped workspace names ("L3.attn.q"). The backward
/// walks the layers in reverse and accumulates d loss / d parameter into <see cref="Gradients"/>
/// (same names and shapes as <see cref="Weights"/>), for
/// loss = mean CE over target tokens + LB weight * mean load-balance + z weight * mean router z-loss.
/// Routing decisions are held fixed (dropped assignments get zero gradient; the router learns
/// through the combine weights and the router losses), as in every MoE trainer.
/// Every buffer (device workspace, routing, pinned host staging) is made on the first step of a
/// batch shape and reused, so steady steps of one shape allocate no device or managed memory
/// beyond what ILGPU itself allocates per kernel launch (README, Training, Throughput).
/// </summary>
public sealed class TrainingNetwork : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly IGemmProvider _gemm;
    private readonly DeviceRouter _router;
    private readonly BackwardKernels _kernels;
    private readonly Workspace _ws;
    private readonly TrainableLayer[] _layers;
    private readonly LayerNames[] _names;
    private readonly HostStaging _host;
    private readonly (ArrayView<float> W, ArrayView<float> G) _embedding, _finalNorm;
    private readonly (Projection W, Projection G) _head;
    private readonly int[] _tokenCounts;
    private readonly PinnedHostArray<int> _groupIds, _groupStarts;
    /// <summary>Routing buffers per decoder layer (null for dense layers), for the current batch shape.</summary>
    private readonly MoeLayerState?[] _moeStates;
    private ImmutableArray<MoeLayerStep> _moeSteps = [];
    private readonly (double LoadBalancing, double ZLoss)[] _routerLosses;
    private RoutingOptions? _routing;

    /// <summary>Builds the training network over <paramref name="weights"/> (which it then owns) on <paramref name="device"/>.</summary>
    public TrainingNetwork(ComputeDevice device, ModelSpecInfo spec, DeviceWeights weights)
    {
        _device = device;
        Spec = spec;
        Weights = weights;
        Gradients = DeviceWeights.Load(device, spec, p => new float[p.Elements]);
        _gemm = GemmProviders.Create(device.Accelerator);
        _router = new DeviceRouter(device);
        _kernels = new BackwardKernels(device);
        _ws = new Workspace(device);
        _host = new HostStaging(device);
        var config = spec.Config;
        _layers = Enumerable.Range(0, config.Layers).Select(l => new TrainableLayer(config, weights, Gradients, l)).ToArray();
        _names = Enumerable.Range(0, config.Layers).Select(l => new LayerNames(l)).ToArray();
        _moeStates = new MoeLayerState?[config.Layers];
        _routerLosses = new (double, double)[config.MoeLayers.Count];
        _embedding = (weights.Get(-1, ParameterRole.Embedding), Gradients.Get(-1, ParameterRole.Embedding));
        _finalNorm = (weights.Get(-1, ParameterRole.FinalNorm), Gradients.Get(-1, ParameterRole.FinalNorm));
        _head = config.TiedEmbeddings
            ? (Projection.Linear(_embedding.W, config.Hidden, config.Vocab), Projection.Linear(_embedding.G, config.Hidden, config.Vocab))
            : (Projection.Linear(weights.Get(-1, ParameterRole.LmHead), config.Hidden, config.Vocab),
               Projection.Linear(Gradients.Get(-1, ParameterRole.LmHead), config.Hidden, config.Vocab));
        _tokenCounts = new int[config.Vocab];
        _groupIds = new PinnedHostArray<int>(device.Accelerator, new int[config.Vocab]);
        _groupStarts = new PinnedHostArray<int>(device.Accelerator, new int[config.Vocab + 1]);
    }

    /// <summary>The spec trained.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The parameters (updated in place by the optimizer).</summary>
    public DeviceWeights Weights { get; }

    /// <summary>d loss / d parameter of the last <see cref="ForwardBackward"/>, per tensor.</summary>
    public DeviceWeights Gradients { get; }

    /// <summary>Weights of the router losses in the total loss (OpenMoE: 0.01 and 1e-4).</summary>
    public RouterLossWeights LossWeights { get; init; } = new();

    /// <summary>Name of the GEMM provider in use.</summary>
    public string GemmName => _gemm.Name;

    /// <summary>
    /// One forward and backward. inputs [B*T] token ids, targets [B*T] the id each position must
    /// predict or -1 (not a target). Gradients are overwritten (not accumulated across calls).
    /// The returned per-layer records are overwritten by the next call.
    /// </summary>
    public StepLosses ForwardBackward(int[] inputs, int[] targets, int batch, double capacityFactor)
    {
        var config = Spec.Config;
        int n = inputs.Length, time = n / batch, d = config.Hidden, v = config.Vocab;
        if (batch < 1 || n == 0 || n % batch != 0 || targets.Length != n || time > config.ContextLength)
            throw new ArgumentException($"Expected inputs and targets of B*T tokens (B = {batch}, T <= {config.ContextLength}); got {inputs.Length} and {targets.Length}.");
        int targetCount = 0;
        for (int i = 0; i < n; i++)
        {
            if ((uint)inputs[i] >= (uint)v || targets[i] >= v)
                throw new ArgumentException($"Token id at index {i} is outside the vocabulary [0, {v}) of {config.Name}.");
            if (targets[i] >= 0) targetCount++;
        }
        var routing = RoutingFor(capacityFactor);
        PrepareMoeStates(n, time, routing);

        var tokenView = _ws.Get<int>("tokens", n);
        _host.Upload<int>("tokens", inputs, tokenView);
        var targetView = _ws.Get<int>("targets", n);
        _host.Upload<int>("targets", targets, targetView);
        var x = _ws.Get<float>("x", (long)n * d);
        _device.Ops.Embedding(tokenView, _embedding.W, x, n, d, v);
        foreach (var layer in _layers)
            LayerForward(layer, x, batch, time, routing);

        var xFinal = _ws.Get<float>("final.x", (long)n * d);
        x.CopyTo(xFinal);
        var normed = _ws.Get<float>("final.normed", (long)n * d);
        _device.Ops.RmsNorm(xFinal, _finalNorm.W, normed, n, d, (float)config.NormEps);
        var logits = _ws.Get<float>("final.logits", (long)n * v);
        _head.W.Apply(_gemm, normed, logits, n);
        var rowLoss = _ws.Get<float>("final.row_loss", n);
        var rowLse = _ws.Get<float>("final.row_lse", n);
        var ceResult = _ws.Get<float>("final.ce", 2);
        _device.Ops.CrossEntropy(logits, targetView, rowLoss, rowLse, ceResult, n, v);

        ZeroGradients();
        // Backward: the logits buffer becomes d loss / d logits.
        _kernels.CrossEntropy(logits, targetView, rowLse, logits, n, v, targetCount > 0 ? 1f / targetCount : 0f);
        var dNormed = _ws.Get<float>("bw.dh", (long)n * d);
        _head.W.Backward(_gemm, _head.G, normed, logits, dNormed, n);
        var dx = _ws.Get<float>("bw.dx", (long)n * d);
        dx.MemSetToZero();
        _kernels.RmsNorm(xFinal, _finalNorm.W, dNormed, dx, _finalNorm.G, RowScale(n), n, d, (float)config.NormEps);

        for (int l = _layers.Length - 1; l >= 0; l--)
            LayerBackward(_layers[l], dx, batch, time, routing);
        EmbeddingBackward(inputs, dx, n, d, v);

        var ce = _host.Download("ce", ceResult.SubView(0, 1))[0];
        for (int m = 0; m < _moeSteps.Length; m++)
            _routerLosses[m] = (_moeSteps[m].LoadBalancing, _moeSteps[m].ZLoss);
        var (lb, z, routerTotal) = LossWeights.Combine(_routerLosses);
        return new StepLosses(ce, lb, z, ce + routerTotal, targetCount, _moeSteps);
    }

    /// <summary>The routing options for <paramref name="capacityFactor"/>, made once per factor.</summary>
    private RoutingOptions RoutingFor(double capacityFactor)
    {
        if (_routing is null || _routing.CapacityFactor != capacityFactor)
            _routing = RoutingOptions.FromConfig(Spec.Config, training: true) with { CapacityFactor = capacityFactor };
        return _routing;
    }

    /// <summary>Routing buffers for a batch of N tokens in sequences of T: kept while the shape stays the same.</summary>
    private void PrepareMoeStates(int n, int time, RoutingOptions routing)
    {
        bool fits = true;
        foreach (var layer in _layers)
            fits &= !layer.IsMoe || _moeStates[layer.Index]?.Fits(n, time, routing) == true;
        if (fits)
            return;
        var steps = ImmutableArray.CreateBuilder<MoeLayerStep>(_routerLosses.Length);
        foreach (var layer in _layers)
        {
            if (!layer.IsMoe)
                continue;
            _moeStates[layer.Index]?.Dispose();
            var state = new MoeLayerState(_device, _router, layer.Index, n, time, routing);
            _moeStates[layer.Index] = state;
            steps.Add(state.Step);
        }
        _moeSteps = steps.MoveToImmutable();
    }

    private void LayerForward(TrainableLayer layer, ArrayView<float> x, int batch, int time, RoutingOptions routing)
    {
        var config = Spec.Config;
        int n = batch * time, d = config.Hidden;
        float eps = (float)config.NormEps;
        var names = _names[layer.Index];

        var attnIn = _ws.Get<float>(names.AttentionIn, (long)n * d);
        x.CopyTo(attnIn);
        var h = _ws.Get<float>(names.AttentionNormed, (long)n * d);
        _device.Ops.RmsNorm(x, layer.AttentionNorm.W, h, n, d, eps);
        var q = _ws.Get<float>(names.Query, (long)n * layer.Query.W.Out);
        var k = _ws.Get<float>(names.Key, (long)n * layer.Key.W.Out);
        var v = _ws.Get<float>(names.Value, (long)n * layer.Value.W.Out);
        var o = _ws.Get<float>(names.AttentionOut, (long)n * layer.Query.W.Out);
        layer.Query.W.Apply(_gemm, h, q, n);
        layer.Key.W.Apply(_gemm, h, k, n);
        layer.Value.W.Apply(_gemm, h, v, n);
        var rope = RopeShape(batch, time);
        _device.Ops.Rope(q, rope with { Heads = config.Heads });
        _device.Ops.Rope(k, rope with { Heads = config.KvHeads });
        if (UsesGemmAttention)
            GemmAttention.Forward(_gemm, _kernels, q, k, v, _ws.Get<float>(names.Probabilities, (long)batch * config.Heads * time * time), o,
                batch, time, config.Heads, config.HeadDim, AttentionBlock.LogitScale(config));
        else
            _device.Ops.Attention(q, k, v, o, AttentionShape(batch, time));
        layer.Output.W.Apply(_gemm, o, x, n, accumulate: true);

        var ffnIn = _ws.Get<float>(names.FfnIn, (long)n * d);
        x.CopyTo(ffnIn);
        var h2 = _ws.Get<float>(names.FfnNormed, (long)n * d);
        _device.Ops.RmsNorm(x, layer.FfnNorm.W, h2, n, d, eps);
        if (layer.Dense is { } dense)
        {
            FfnPass.Forward(_device, _gemm, dense.W, h2, FfnActivations.Allocate(_ws, names.Dense, dense.W, n), x, n, accumulate: true);
            return;
        }
        MoeForward(layer, h2, x, n, routing, names);
        if (layer.Extra is { } extra)
        {
            var extraIn = _ws.Get<float>(names.ExtraIn, (long)n * d);
            x.CopyTo(extraIn);
            var h3 = _ws.Get<float>(names.ExtraNormed, (long)n * d);
            _device.Ops.RmsNorm(x, layer.ExtraNorm.W, h3, n, d, eps);
            FfnPass.Forward(_device, _gemm, extra.W, h3, FfnActivations.Allocate(_ws, names.Extra, extra.W, n), x, n, accumulate: true);
        }
    }

    private void MoeForward(TrainableLayer layer, ArrayView<float> h, ArrayView<float> residual, int n, RoutingOptions options, LayerNames names)
    {
        var config = Spec.Config;
        int d = config.Hidden, e = config.Experts, k = config.TopK;
        var logits = _ws.Get<float>(names.RouterLogits, (long)n * e);
        layer.Router.W.Apply(_gemm, h, logits, n);
        CheckFinite(logits, layer.Index);
        var state = _moeStates[layer.Index]!;
        var topK = state.TopK;
        var routing = state.Routing;
        _router.ChooseTopK(logits, e, options.Gating, topK);
        _router.Assign(topK.Choices.View, topK.ChoiceProbabilities.View, options, routing);
        state.DownloadOffsets();
        int kept = state.Kept;

        var combined = _ws.Get<float>("moe.combined", (long)n * d);
        if (kept > 0)
        {
            int maxKept = n * k;
            var rowTokens = KeptRows<int>(names.RowTokens, kept, maxKept, 1);
            state.UploadRowTokens(rowTokens, k);
            var expertIn = KeptRows<float>(names.ExpertIn, kept, maxKept, d);
            var expertOut = KeptRows<float>(names.ExpertOut, kept, maxKept, d);
            _device.Ops.MoeDispatch(h, rowTokens, expertIn, kept, d);
            var saved = FfnActivations.Allocate(_ws, names.Expert, layer.Experts[0].W, maxKept);
            for (int x = 0; x < e; x++)
            {
                var (first, rows) = state.ExpertRows(x);
                if (rows == 0)
                    continue; // its views would start at the end of the kept rows, which ILGPU rejects
                var ffn = layer.Experts[x].W;
                FfnPass.Forward(_device, _gemm, ffn, expertIn.SubView((long)first * d, (long)rows * d), saved.Slice(ffn, first, rows),
                    expertOut.SubView((long)first * d, (long)rows * d), rows, accumulate: false);
            }
            _device.Ops.MoeCombine(expertOut, routing.Row.View, topK.Weights.View, combined, n, k, d);
        }
        else
        {
            combined.MemSetToZero();
        }
        _device.Ops.ResidualAdd(residual, combined, n * d);
        if (layer.Shared is { } shared)
            FfnPass.Forward(_device, _gemm, shared.W, h, FfnActivations.Allocate(_ws, names.Shared, shared.W, n), residual, n, accumulate: true);
    }

    /// <summary>dx [N, D] is d loss / d (layer output) on entry and d loss / d (layer input) on exit.</summary>
    private void LayerBackward(TrainableLayer layer, ArrayView<float> dx, int batch, int time, RoutingOptions routing)
    {
        var config = Spec.Config;
        int n = batch * time, d = config.Hidden;
        float eps = (float)config.NormEps;
        var names = _names[layer.Index];
        var dh = _ws.Get<float>("bw.dh", (long)n * d);

        if (layer.Dense is { } dense)
        {
            FfnPass.Backward(_device, _kernels, _gemm, _ws, dense.W, dense.G, _ws.Get<float>(names.FfnNormed, (long)n * d),
                FfnActivations.Allocate(_ws, names.Dense, dense.W, n), dx, dh, n, n, accumulateDx: false);
            _kernels.RmsNorm(_ws.Get<float>(names.FfnIn, (long)n * d), layer.FfnNorm.W, dh, dx, layer.FfnNorm.G, RowScale(n), n, d, eps);
        }
        else
        {
            if (layer.Extra is { } extra)
            {
                FfnPass.Backward(_device, _kernels, _gemm, _ws, extra.W, extra.G, _ws.Get<float>(names.ExtraNormed, (long)n * d),
                    FfnActivations.Allocate(_ws, names.Extra, extra.W, n), dx, dh, n, n, accumulateDx: false);
                _kernels.RmsNorm(_ws.Get<float>(names.ExtraIn, (long)n * d), layer.ExtraNorm.W, dh, dx, layer.ExtraNorm.G, RowScale(n), n, d, eps);
            }
            MoeBackward(layer, _moeStates[layer.Index]!, dx, dh, n, time, routing, names);
            _kernels.RmsNorm(_ws.Get<float>(names.FfnIn, (long)n * d), layer.FfnNorm.W, dh, dx, layer.FfnNorm.G, RowScale(n), n, d, eps);
        }

        var q = _ws.Get<float>(names.Query, (long)n * layer.Query.W.Out);
        var k = _ws.Get<float>(names.Key, (long)n * layer.Key.W.Out);
        var v = _ws.Get<float>(names.Value, (long)n * layer.Value.W.Out);
        var o = _ws.Get<float>(names.AttentionOut, (long)n * layer.Query.W.Out);
        var dO = _ws.Get<float>("bw.attn.do", (long)n * layer.Query.W.Out);
        var dq = _ws.Get<float>("bw.attn.dq", (long)n * layer.Query.W.Out);
        var dk = _ws.Get<float>("bw.attn.dk", (long)n * layer.Key.W.Out);
        var dv = _ws.Get<float>("bw.attn.dv", (long)n * layer.Value.W.Out);
        layer.Output.W.Backward(_gemm, layer.Output.G, o, dx, dO, n);
        if (UsesGemmAttention)
        {
            long scores = (long)batch * config.Heads * time * time;
            GemmAttention.Backward(_gemm, _kernels, q, k, v, _ws.Get<float>(names.Probabilities, scores), dO, _ws.Get<float>("bw.attn.dp", scores),
                dq, dk, dv, batch, time, config.Heads, config.HeadDim, AttentionBlock.LogitScale(config));
        }
        else
        {
            _kernels.Attention(q, k, v, o, dO, dq, dk, dv, _ws.Get<float>("bw.attn.lse", (long)n * config.Heads),
                _ws.Get<float>("bw.attn.delta", (long)n * config.Heads), AttentionShape(batch, time));
        }
        var rope = RopeShape(batch, time);
        _kernels.Rope(dq, rope with { Heads = config.Heads });
        _kernels.Rope(dk, rope with { Heads = config.KvHeads });
        var h = _ws.Get<float>(names.AttentionNormed, (long)n * d);
        layer.Query.W.Backward(_gemm, layer.Query.G, h, dq, dh, n);
        layer.Key.W.Backward(_gemm, layer.Key.G, h, dk, dh, n, accumulateDx: true);
        layer.Value.W.Backward(_gemm, layer.Value.G, h, dv, dh, n, accumulateDx: true);
        _kernels.RmsNorm(_ws.Get<float>(names.AttentionIn, (long)n * d), layer.AttentionNorm.W, dh, dx, layer.AttentionNorm.G, RowScale(n), n, d, eps);
    }

    /// <summary>dy [N, D] = d loss / d (MoE output); writes dh [N, D] = d loss / d (MoE input, the normed x).</summary>
    private void MoeBackward(TrainableLayer layer, MoeLayerState state, ArrayView<float> dy, ArrayView<float> dh, int n, int time,
        RoutingOptions options, LayerNames names)
    {
        var config = Spec.Config;
        int d = config.Hidden, e = config.Experts, k = config.TopK, kept = state.Kept;
        var h = _ws.Get<float>(names.FfnNormed, (long)n * d);
        var dWeights = _ws.Get<float>("bw.moe.dweights", (long)n * k);
        dh.MemSetToZero();
        if (kept > 0)
        {
            int maxKept = n * k;
            var expertIn = KeptRows<float>(names.ExpertIn, kept, maxKept, d);
            var expertOut = KeptRows<float>(names.ExpertOut, kept, maxKept, d);
            var dExpertOut = KeptRows<float>("bw.moe.dexpert_out", kept, maxKept, d);
            var dExpertIn = KeptRows<float>("bw.moe.dexpert_in", kept, maxKept, d);
            _kernels.MoeCombine(dy, expertOut, state.Routing.Row.View, state.TopK.Weights.View, dExpertOut, dWeights, n, k, d);
            var saved = FfnActivations.Allocate(_ws, names.Expert, layer.Experts[0].W, maxKept);
            for (int x = 0; x < e; x++)
            {
                var (first, rows) = state.ExpertRows(x);
                if (rows == 0)
                    continue;
                var (weights, gradients) = layer.Experts[x];
                FfnPass.Backward(_device, _kernels, _gemm, _ws, weights, gradients, expertIn.SubView((long)first * d, (long)rows * d),
                    saved.Slice(weights, first, rows), dExpertOut.SubView((long)first * d, (long)rows * d),
                    dExpertIn.SubView((long)first * d, (long)rows * d), rows, maxKept, accumulateDx: false);
            }
            _kernels.MoeDispatch(dExpertIn, state.Routing.Row.View, dh, n, k, d);
        }
        else
        {
            dWeights.MemSetToZero();
        }
        if (layer.Shared is { } shared)
            FfnPass.Backward(_device, _kernels, _gemm, _ws, shared.W, shared.G, h, FfnActivations.Allocate(_ws, names.Shared, shared.W, n),
                dy, dh, n, n, accumulateDx: true);

        var logits = _ws.Get<float>(names.RouterLogits, (long)n * e);
        var dLogits = _ws.Get<float>("bw.moe.dlogits", (long)n * e);
        _kernels.RouterSoftmax(state.TopK.Probabilities.View, state.TopK.Choices.View, dWeights, dLogits, n, e, k,
            options.Gating == Gating.RenormalizedTopK);
        int moeLayers = _moeSteps.Length;
        var (lb, z) = _router.Losses(logits, state.TopK, options, dLogits,
            LossWeights.LoadBalancingGradientScale(moeLayers), LossWeights.ZLossGradientScale(moeLayers), state.LossScratch);
        layer.Router.W.Backward(_gemm, layer.Router.G, h, dLogits, dh, n, accumulateDx: true);
        RecordRouting(state, lb, z, n, time);
    }

    /// <summary>Fills the layer's <see cref="MoeLayerStep"/>: losses, load per expert, drops per position.</summary>
    private void RecordRouting(MoeLayerState state, double lb, double z, int n, int time)
    {
        int k = state.Routing.Options.TopK, e = state.Routing.Options.Experts;
        var step = state.Step;
        for (int x = 0; x < e; x++) step.ExpertLoad[x] = state.ExpertRows(x).Rows;
        var rows = state.DownloadRows();
        var dropped = step.DroppedByPosition;
        Array.Clear(dropped);
        int droppedTotal = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i] >= 0) continue;
            dropped[i / k % time]++;
            droppedTotal++;
        }
        step.LoadBalancing = lb;
        step.ZLoss = z;
        step.DropRatio = (double)droppedTotal / ((long)n * k);
    }

    /// <summary>
    /// Routing NaN logits would pick no valid expert; stop first. Router logits are small (N*E), so
    /// this host check is cheap, and the MoE forward synchronises here anyway.
    /// </summary>
    private void CheckFinite(ArrayView<float> logits, int layer)
    {
        foreach (float value in _host.Download("router_logits", logits))
        {
            if (!float.IsFinite(value))
                throw new NonFiniteValuesException($"Router logits of layer {layer} are NaN or infinite.");
        }
    }

    private void EmbeddingBackward(int[] tokens, ArrayView<float> dx, int n, int d, int v)
    {
        var positions = _host.Get<int>("bw.emb.positions", n);
        int distinct = Kernels.Backward.EmbeddingBackward.GroupByToken(tokens, _tokenCounts, _groupIds.Array, _groupStarts.Array, positions.Array.AsSpan(0, n));
        // Sized for n (distinct <= n) so batches with more distinct tokens reuse the same buffers.
        var ids = _ws.Get<int>("bw.emb.ids", n).SubView(0, distinct);
        var starts = _ws.Get<int>("bw.emb.starts", n + 1).SubView(0, distinct + 1);
        var pos = _ws.Get<int>("bw.emb.positions", n);
        _groupIds.CopyTo(ids);
        _groupStarts.CopyTo(starts);
        positions.CopyTo(pos);
        _kernels.Embedding(ids, starts, pos, dx, _embedding.G, distinct, n, d, v);
    }

    /// <summary>
    /// The first <paramref name="rows"/> rows of a [maxRows, width] workspace buffer: the kept assignments
    /// change every step, so buffers are made for the most there can be (N*K) and never regrow.
    /// </summary>
    private ArrayView<T> KeptRows<T>(string name, int rows, int maxRows, long width) where T : unmanaged =>
        _ws.Get<T>(name, maxRows * width).SubView(0, rows * width);

    private void ZeroGradients()
    {
        foreach (var parameter in Spec.Parameters)
            Gradients[parameter].MemSetToZero();
    }

    /// <summary>Attention as GEMMs (multi-head attention); the fused kernels handle grouped-query attention.</summary>
    private bool UsesGemmAttention => Spec.Config.KvHeads == Spec.Config.Heads;

    private ArrayView<float> RowScale(int n) => _ws.Get<float>("bw.row_scale", n);

    private RopeShape RopeShape(int batch, int time) => new()
    {
        Batch = batch, Time = time, HeadDim = Spec.Config.HeadDim, PositionOffset = 0, Theta = (float)Spec.Config.RopeTheta,
    };

    private AttentionShape AttentionShape(int batch, int time) => new()
    {
        Batch = batch, QueryTime = time, PastLength = 0, CacheLength = time,
        Heads = Spec.Config.Heads, KvHeads = Spec.Config.KvHeads, HeadDim = Spec.Config.HeadDim, Scale = AttentionBlock.LogitScale(Spec.Config),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var state in _moeStates) state?.Dispose();
        _ws.Dispose();
        _host.Dispose();
        _groupIds.Dispose();
        _groupStarts.Dispose();
        _gemm.Dispose();
        Gradients.Dispose();
        Weights.Dispose();
    }
}
