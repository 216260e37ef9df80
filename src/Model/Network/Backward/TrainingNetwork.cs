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
/// </summary>
public sealed class TrainingNetwork : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly IGemmProvider _gemm;
    private readonly DeviceRouter _router;
    private readonly BackwardKernels _kernels;
    private readonly Workspace _ws;
    private readonly TrainableLayer[] _layers;
    private readonly (ArrayView<float> W, ArrayView<float> G) _embedding, _finalNorm;
    private readonly (Projection W, Projection G) _head;
    private readonly int[] _tokenCounts;
    private readonly int[] _groupIds, _groupStarts;
    private int[] _groupPositions = [];
    private float[] _hostLogits = [];
    private readonly List<MoeLayerState> _moeStates = [];

    /// <summary>Builds the training network over <paramref name="weights"/> (which it then owns) on <paramref name="device"/>.</summary>
    public TrainingNetwork(ComputeDevice device, ModelSpecInfo spec, DeviceWeights weights)
    {
        _device = device;
        Spec = spec;
        Weights = weights;
        Gradients = DeviceWeights.Load(device, spec, p => new float[p.Elements]);
        _gemm = GemmProviders.Create(device.Accelerator);
        _router = new DeviceRouter(device.Accelerator);
        _kernels = new BackwardKernels(device);
        _ws = new Workspace(device);
        var config = spec.Config;
        _layers = Enumerable.Range(0, config.Layers).Select(l => new TrainableLayer(config, weights, Gradients, l)).ToArray();
        _embedding = (weights.Get(-1, ParameterRole.Embedding), Gradients.Get(-1, ParameterRole.Embedding));
        _finalNorm = (weights.Get(-1, ParameterRole.FinalNorm), Gradients.Get(-1, ParameterRole.FinalNorm));
        _head = config.TiedEmbeddings
            ? (Projection.Linear(_embedding.W, config.Hidden, config.Vocab), Projection.Linear(_embedding.G, config.Hidden, config.Vocab))
            : (Projection.Linear(weights.Get(-1, ParameterRole.LmHead), config.Hidden, config.Vocab),
               Projection.Linear(Gradients.Get(-1, ParameterRole.LmHead), config.Hidden, config.Vocab));
        _tokenCounts = new int[config.Vocab];
        _groupIds = new int[config.Vocab];
        _groupStarts = new int[config.Vocab + 1];
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
        var routing = RoutingOptions.FromConfig(config, training: true) with { CapacityFactor = capacityFactor };

        foreach (var state in _moeStates) state.Dispose();
        _moeStates.Clear();

        var tokenView = _ws.Get<int>("tokens", n);
        tokenView.CopyFromCPU(inputs);
        var targetView = _ws.Get<int>("targets", n);
        targetView.CopyFromCPU(targets);
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

        var moeSteps = new MoeLayerStep[_moeStates.Count];
        int moeIndex = _moeStates.Count - 1;
        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            var step = LayerBackward(_layers[l], dx, batch, time, routing, moeIndex >= 0 && _layers[l].IsMoe ? _moeStates[moeIndex] : null);
            if (step is not null)
                moeSteps[moeIndex--] = step;
        }
        EmbeddingBackward(inputs, dx, n, d, v);
        _device.Synchronize();

        var ce = ceResult.SubView(0, 1).Download()[0];
        var (lb, z, routerTotal) = LossWeights.Combine(moeSteps.Select(s => (s.LoadBalancing, s.ZLoss)).ToArray());
        return new StepLosses(ce, lb, z, ce + routerTotal, targetCount, moeSteps);
    }

    private void LayerForward(TrainableLayer layer, ArrayView<float> x, int batch, int time, RoutingOptions routing)
    {
        var config = Spec.Config;
        int n = batch * time, d = config.Hidden;
        float eps = (float)config.NormEps;
        string p = $"L{layer.Index}.";

        var attnIn = _ws.Get<float>(p + "attn.in", (long)n * d);
        x.CopyTo(attnIn);
        var h = _ws.Get<float>(p + "attn.normed", (long)n * d);
        _device.Ops.RmsNorm(x, layer.AttentionNorm.W, h, n, d, eps);
        var q = _ws.Get<float>(p + "attn.q", (long)n * layer.Query.W.Out);
        var k = _ws.Get<float>(p + "attn.k", (long)n * layer.Key.W.Out);
        var v = _ws.Get<float>(p + "attn.v", (long)n * layer.Value.W.Out);
        var o = _ws.Get<float>(p + "attn.o", (long)n * layer.Query.W.Out);
        layer.Query.W.Apply(_gemm, h, q, n);
        layer.Key.W.Apply(_gemm, h, k, n);
        layer.Value.W.Apply(_gemm, h, v, n);
        var rope = RopeShape(batch, time);
        _device.Ops.Rope(q, rope with { Heads = config.Heads });
        _device.Ops.Rope(k, rope with { Heads = config.KvHeads });
        if (UsesGemmAttention)
            GemmAttention.Forward(_gemm, _kernels, q, k, v, _ws.Get<float>(p + "attn.p", (long)batch * config.Heads * time * time), o,
                batch, time, config.Heads, config.HeadDim, AttentionBlock.LogitScale(config));
        else
            _device.Ops.Attention(q, k, v, o, AttentionShape(batch, time));
        layer.Output.W.Apply(_gemm, o, x, n, accumulate: true);

        var ffnIn = _ws.Get<float>(p + "ffn.in", (long)n * d);
        x.CopyTo(ffnIn);
        var h2 = _ws.Get<float>(p + "ffn.normed", (long)n * d);
        _device.Ops.RmsNorm(x, layer.FfnNorm.W, h2, n, d, eps);
        if (layer.Dense is { } dense)
        {
            FfnPass.Forward(_device, _gemm, dense.W, h2, FfnActivations.Allocate(_ws, p + "dense", dense.W, n), x, n, accumulate: true);
            return;
        }
        MoeForward(layer, h2, x, n, routing, p);
        if (layer.Extra is { } extra)
        {
            var extraIn = _ws.Get<float>(p + "extra.in", (long)n * d);
            x.CopyTo(extraIn);
            var h3 = _ws.Get<float>(p + "extra.normed", (long)n * d);
            _device.Ops.RmsNorm(x, layer.ExtraNorm.W, h3, n, d, eps);
            FfnPass.Forward(_device, _gemm, extra.W, h3, FfnActivations.Allocate(_ws, p + "extra", extra.W, n), x, n, accumulate: true);
        }
    }

    private void MoeForward(TrainableLayer layer, ArrayView<float> h, ArrayView<float> residual, int n, RoutingOptions options, string p)
    {
        var config = Spec.Config;
        int d = config.Hidden, e = config.Experts, k = config.TopK;
        var logits = _ws.Get<float>(p + "moe.logits", (long)n * e);
        layer.Router.W.Apply(_gemm, h, logits, n);
        CheckFinite(logits, layer.Index);
        var topK = _router.ChooseTopK(logits, n, e, k, options.Gating);
        var routing = _router.Assign(topK.Choices.View, topK.ChoiceProbabilities.View, n, options);
        var state = new MoeLayerState(topK, routing, routing.ExpertGroupOffsets.GetAsArray1D(), n / routing.TokensPerGroup);
        _moeStates.Add(state);
        int kept = state.Kept;

        var combined = _ws.Get<float>("moe.combined", (long)n * d);
        if (kept > 0)
        {
            var rowTokens = _ws.Get<int>(p + "moe.row_tokens", kept);
            var assignments = ((ArrayView<int>)routing.DispatchOrder.View).SubView(0, kept).Download();
            for (int i = 0; i < assignments.Length; i++) assignments[i] /= k;
            rowTokens.CopyFromCPU(assignments);
            var expertIn = _ws.Get<float>(p + "moe.expert_in", (long)kept * d);
            var expertOut = _ws.Get<float>(p + "moe.expert_out", (long)kept * d);
            _device.Ops.MoeDispatch(h, rowTokens, expertIn, kept, d);
            var saved = FfnActivations.Allocate(_ws, p + "moe.expert", layer.Experts[0].W, kept);
            for (int x = 0; x < e; x++)
            {
                var (first, rows) = state.ExpertRows(x);
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
            FfnPass.Forward(_device, _gemm, shared.W, h, FfnActivations.Allocate(_ws, p + "moe.shared", shared.W, n), residual, n, accumulate: true);
    }

    /// <summary>dx [N, D] is d loss / d (layer output) on entry and d loss / d (layer input) on exit.</summary>
    private MoeLayerStep? LayerBackward(TrainableLayer layer, ArrayView<float> dx, int batch, int time, RoutingOptions routing, MoeLayerState? moe)
    {
        var config = Spec.Config;
        int n = batch * time, d = config.Hidden;
        float eps = (float)config.NormEps;
        string p = $"L{layer.Index}.";
        var dh = _ws.Get<float>("bw.dh", (long)n * d);
        MoeLayerStep? step = null;

        if (layer.Dense is { } dense)
        {
            FfnPass.Backward(_device, _kernels, _gemm, _ws, dense.W, dense.G, _ws.Get<float>(p + "ffn.normed", (long)n * d),
                FfnActivations.Allocate(_ws, p + "dense", dense.W, n), dx, dh, n, accumulateDx: false);
            _kernels.RmsNorm(_ws.Get<float>(p + "ffn.in", (long)n * d), layer.FfnNorm.W, dh, dx, layer.FfnNorm.G, RowScale(n), n, d, eps);
        }
        else
        {
            if (layer.Extra is { } extra)
            {
                FfnPass.Backward(_device, _kernels, _gemm, _ws, extra.W, extra.G, _ws.Get<float>(p + "extra.normed", (long)n * d),
                    FfnActivations.Allocate(_ws, p + "extra", extra.W, n), dx, dh, n, accumulateDx: false);
                _kernels.RmsNorm(_ws.Get<float>(p + "extra.in", (long)n * d), layer.ExtraNorm.W, dh, dx, layer.ExtraNorm.G, RowScale(n), n, d, eps);
            }
            step = MoeBackward(layer, moe!, dx, dh, n, time, routing, p);
            _kernels.RmsNorm(_ws.Get<float>(p + "ffn.in", (long)n * d), layer.FfnNorm.W, dh, dx, layer.FfnNorm.G, RowScale(n), n, d, eps);
        }

        var q = _ws.Get<float>(p + "attn.q", (long)n * layer.Query.W.Out);
        var k = _ws.Get<float>(p + "attn.k", (long)n * layer.Key.W.Out);
        var v = _ws.Get<float>(p + "attn.v", (long)n * layer.Value.W.Out);
        var o = _ws.Get<float>(p + "attn.o", (long)n * layer.Query.W.Out);
        var dO = _ws.Get<float>("bw.attn.do", (long)n * layer.Query.W.Out);
        var dq = _ws.Get<float>("bw.attn.dq", (long)n * layer.Query.W.Out);
        var dk = _ws.Get<float>("bw.attn.dk", (long)n * layer.Key.W.Out);
        var dv = _ws.Get<float>("bw.attn.dv", (long)n * layer.Value.W.Out);
        layer.Output.W.Backward(_gemm, layer.Output.G, o, dx, dO, n);
        if (UsesGemmAttention)
        {
            long scores = (long)batch * config.Heads * time * time;
            GemmAttention.Backward(_gemm, _kernels, q, k, v, _ws.Get<float>(p + "attn.p", scores), dO, _ws.Get<float>("bw.attn.dp", scores),
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
        var h = _ws.Get<float>(p + "attn.normed", (long)n * d);
        layer.Query.W.Backward(_gemm, layer.Query.G, h, dq, dh, n);
        layer.Key.W.Backward(_gemm, layer.Key.G, h, dk, dh, n, accumulateDx: true);
        layer.Value.W.Backward(_gemm, layer.Value.G, h, dv, dh, n, accumulateDx: true);
        _kernels.RmsNorm(_ws.Get<float>(p + "attn.in", (long)n * d), layer.AttentionNorm.W, dh, dx, layer.AttentionNorm.G, RowScale(n), n, d, eps);
        return step;
    }

    /// <summary>dy [N, D] = d loss / d (MoE output); writes dh [N, D] = d loss / d (MoE input, the normed x).</summary>
    private MoeLayerStep MoeBackward(TrainableLayer layer, MoeLayerState state, ArrayView<float> dy, ArrayView<float> dh, int n, int time,
        RoutingOptions options, string p)
    {
        var config = Spec.Config;
        int d = config.Hidden, e = config.Experts, k = config.TopK, kept = state.Kept;
        var h = _ws.Get<float>(p + "ffn.normed", (long)n * d);
        var dWeights = _ws.Get<float>("bw.moe.dweights", (long)n * k);
        dh.MemSetToZero();
        if (kept > 0)
        {
            var expertIn = _ws.Get<float>(p + "moe.expert_in", (long)kept * d);
            var expertOut = _ws.Get<float>(p + "moe.expert_out", (long)kept * d);
            var dExpertOut = _ws.Get<float>("bw.moe.dexpert_out", (long)kept * d);
            var dExpertIn = _ws.Get<float>("bw.moe.dexpert_in", (long)kept * d);
            _kernels.MoeCombine(dy, expertOut, state.Routing.Row.View, state.TopK.Weights.View, dExpertOut, dWeights, n, k, d);
            var saved = FfnActivations.Allocate(_ws, p + "moe.expert", layer.Experts[0].W, kept);
            for (int x = 0; x < e; x++)
            {
                var (first, rows) = state.ExpertRows(x);
                var (weights, gradients) = layer.Experts[x];
                FfnPass.Backward(_device, _kernels, _gemm, _ws, weights, gradients, expertIn.SubView((long)first * d, (long)rows * d),
                    saved.Slice(weights, first, rows), dExpertOut.SubView((long)first * d, (long)rows * d),
                    dExpertIn.SubView((long)first * d, (long)rows * d), rows, accumulateDx: false);
            }
            _kernels.MoeDispatch(dExpertIn, state.Routing.Row.View, dh, n, k, d);
        }
        else
        {
            dWeights.MemSetToZero();
        }
        if (layer.Shared is { } shared)
            FfnPass.Backward(_device, _kernels, _gemm, _ws, shared.W, shared.G, h, FfnActivations.Allocate(_ws, p + "moe.shared", shared.W, n),
                dy, dh, n, accumulateDx: true);

        var logits = _ws.Get<float>(p + "moe.logits", (long)n * e);
        var dLogits = _ws.Get<float>("bw.moe.dlogits", (long)n * e);
        _kernels.RouterSoftmax(state.TopK.Probabilities.View, state.TopK.Choices.View, dWeights, dLogits, n, e, k,
            options.Gating == Gating.RenormalizedTopK);
        int moeLayers = _moeStates.Count;
        var (lb, z) = _router.Losses(logits, state.TopK, options, dLogits,
            LossWeights.LoadBalancingGradientScale(moeLayers), LossWeights.ZLossGradientScale(moeLayers));
        layer.Router.W.Backward(_gemm, layer.Router.G, h, dLogits, dh, n, accumulateDx: true);
        return RoutingStep(layer.Index, state, lb, z, n, time);
    }

    private static MoeLayerStep RoutingStep(int layer, MoeLayerState state, double lb, double z, int n, int time)
    {
        int k = state.Routing.Options.TopK, e = state.Routing.Options.Experts;
        var load = new int[e];
        for (int x = 0; x < e; x++) load[x] = state.ExpertRows(x).Rows;
        var rows = state.Routing.Row.GetAsArray1D();
        var dropped = new int[time];
        int droppedTotal = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i] >= 0) continue;
            dropped[i / k % time]++;
            droppedTotal++;
        }
        return new MoeLayerStep(layer, lb, z, (double)droppedTotal / ((long)n * k), load, dropped);
    }

    /// <summary>
    /// Routing NaN logits would pick no valid expert; stop first. Router logits are small (N*E), so
    /// this host check is cheap, and the MoE forward synchronises here anyway.
    /// </summary>
    private void CheckFinite(ArrayView<float> logits, int layer)
    {
        if (_hostLogits.Length < logits.Length)
            _hostLogits = new float[logits.Length];
        var host = _hostLogits.AsSpan(0, (int)logits.Length);
        logits.CopyToCPU(host);
        foreach (float value in host)
        {
            if (!float.IsFinite(value))
                throw new NonFiniteValuesException($"Router logits of layer {layer} are NaN or infinite.");
        }
    }

    private void EmbeddingBackward(int[] tokens, ArrayView<float> dx, int n, int d, int v)
    {
        if (_groupPositions.Length < n)
            _groupPositions = new int[n];
        var positions = _groupPositions;
        int distinct = Kernels.Backward.EmbeddingBackward.GroupByToken(tokens, _tokenCounts, _groupIds, _groupStarts, positions.AsSpan(0, n));
        var ids = _ws.Get<int>("bw.emb.ids", distinct);
        var starts = _ws.Get<int>("bw.emb.starts", distinct + 1);
        var pos = _ws.Get<int>("bw.emb.positions", n);
        ids.CopyFromCPU(_groupIds.AsSpan(0, distinct));
        starts.CopyFromCPU(_groupStarts.AsSpan(0, distinct + 1));
        pos.CopyFromCPU(positions.AsSpan(0, n));
        _kernels.Embedding(ids, starts, pos, dx, _embedding.G, distinct, n, d, v);
    }

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
        foreach (var state in _moeStates) state.Dispose();
        _moeStates.Clear();
        _ws.Dispose();
        _gemm.Dispose();
        Gradients.Dispose();
        Weights.Dispose();
    }
}
