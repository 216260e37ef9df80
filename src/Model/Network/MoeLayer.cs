using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Communication;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// One MoE sublayer (DESIGN §2.1, §2.3): fp32 router, softmax over all experts, top-k token choice,
/// capacity assignment with OpenMoE's priority (all first choices before any second choice), each
/// expert's FFN on its contiguous rows, weighted combine; plus DeepSeekMoE's parallel shared experts.
/// OpenMoE's sequential extra FFN is applied by the decoder layer after this block. The backward
/// follows the forward; routing decisions are held fixed (dropped assignments get zero gradient,
/// the router learns through the combine weights and the router losses), as in every MoE trainer.
/// Under expert parallelism (<see cref="ForwardPass.Parallel"/>) the layer holds only its rank's
/// experts and routes the global batch; <see cref="ForwardParallel"/> says how.
/// </summary>
internal sealed class MoeLayer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _layer;
    private readonly Projection _router;
    /// <summary>The experts this rank holds (all in one process); _experts[i] is expert _shard.First + i.</summary>
    private readonly ExpertShard _shard;
    private readonly FeedForward[] _experts;
    private readonly FeedForward? _shared;
    /// <summary>Routing buffers for the latest batch shape, kept while the shape stays the same.</summary>
    private MoeLayerState? _state;
    /// <summary>Expert parallelism: the latest forward's exchange and the first global token of this rank (the backward reverses it).</summary>
    private ExpertExchange? _exchange;
    private int _groupStart;
    /// <summary>Auxiliary-loss-free balancing's per-expert selection bias: model state that is no parameter (no gradient). // [E]</summary>
    private readonly float[] _bias;

    /// <summary>Binds layer <paramref name="layer"/>'s router and experts in <paramref name="weights"/>.</summary>
    public MoeLayer(ModelConfig config, DeviceWeights weights, int layer)
    {
        _config = config;
        _layer = layer;
        _router = Projection.Linear(weights.Get(layer, ParameterRole.Router), config.Hidden, config.Experts);
        bool stacked = weights.Parameters.Has(layer, ParameterRole.ExpertGate);
        _shard = weights.Experts;
        _experts = Enumerable.Range(_shard.First, _shard.Count)
            .Select(e => stacked
                ? FeedForward.StackedExpert(weights, config, layer, e)
                : FeedForward.Linear(weights, config, layer, ParameterRole.ExpertGate, ParameterRole.ExpertUp, ParameterRole.ExpertDown, e))
            .ToArray();
        if (config.SharedExpertKind == SharedExpertKind.ParallelShared)
            _shared = FeedForward.Linear(weights, config, layer, ParameterRole.SharedGate, ParameterRole.SharedUp, ParameterRole.SharedDown);
        _bias = new float[config.Experts];
    }

    /// <summary>Decoder layer index.</summary>
    public int Layer => _layer;

    /// <summary>The expert bias (read by the selection when the rule uses it; saved in checkpoints). // [E]</summary>
    public float[] ExpertBias => _bias;

    /// <summary>
    /// DeepSeek-V3's bias update after a training step: <c>b_e += rate * sign(mean load - load_e)</c>, the
    /// load being the assignments that selected e in the latest forward (before dropping).
    /// </summary>
    public void UpdateExpertBias(double rate)
    {
        var demand = Step?.ExpertDemand ?? throw new InvalidOperationException("The bias moves after a training forward.");
        double mean = demand.Average();
        for (int e = 0; e < _bias.Length; e++)
            _bias[e] += (float)(rate * Math.Sign(mean - demand[e]));
    }

    /// <summary>This layer's routing record of the latest forward (null before the first).</summary>
    public MoeLayerStep? Step => _state?.Step;

    /// <summary>Makes the routing buffers (and a new <see cref="Step"/>) for the pass's batch shape unless the current ones fit.</summary>
    public void Prepare(in ForwardPass pass)
    {
        // Under expert parallelism the routing group is every rank's tokens.
        int tokens = pass.RoutingTokens;
        if (_state?.Fits(tokens, pass.Time, pass.Routing) == true)
            return;
        _state?.Dispose();
        _state = new MoeLayerState(pass.Device, pass.Router, _layer, tokens, pass.Time, pass.Routing);
    }

    /// <summary>
    /// residual [N, D] += MoE(h [N, D]). Fills <see cref="Step"/>; returns the layer's routing trace
    /// when the pass collects one (copies N*(E+3K) numbers to the host), else null.
    /// </summary>
    public MoeLayerTrace? Forward(in ForwardPass pass, LayerNames names, ArrayView<float> h, ArrayView<float> residual, FollowingNorm? norm = null)
    {
        if (pass.Parallel is { } parallel)
            return ForwardParallel(pass, parallel, names, h, residual, norm);
        if (!_shard.IsAll(_config.Experts))
            throw new InvalidOperationException($"Layer {_layer} holds only {_shard} of {_config.Experts}: its forward needs the expert-parallel ranks of the others.");
        Prepare(pass);
        var state = _state!;
        var options = pass.Routing;
        var device = pass.Device;
        var ws = pass.Workspace;
        int n = pass.Tokens, d = _config.Hidden, e = _config.Experts, k = options.TopK;
        var logits = ws.Get<float>(names.RouterLogits, (long)n * e);
        _router.Apply(pass.Gemm, h, logits, n);
        Route(pass, state, logits);
        if (pass.ReplayRouting is { } replay)
            replay.Count(n * k, state.Replay(replay.For(_layer, n, k), pass.Router, options));
        pass.RecordRouting?.Add(state.Decisions());
        int kept = state.Kept;

        if (kept > 0)
        {
            int maxKept = n * k;
            var rowTokens = KeptRows<int>(ws, names.RowTokens, kept, maxKept, 1);
            state.UploadRowTokens(rowTokens, k);
            var expertIn = KeptRows<float>(ws, names.ExpertIn, kept, maxKept, d);
            var expertOut = KeptRows<float>(ws, names.ExpertOut, kept, maxKept, d);
            device.Ops.MoeDispatch(h, rowTokens, expertIn, kept, d);
            if (pass.KeepActivations)
                ExpertsKeepingActivations(pass, names, state, expertIn, expertOut, maxKept);
            else
                ExpertsWithScratch(pass, names, state, expertIn, expertOut);
            AddCombined(pass, expertOut, state.Routing.Row.View, state.TopK.Weights.View, residual, norm);
        }
        else
        {
            AddCombined(pass, default, default, default, residual, norm);
        }
        return Finish(pass, names, state, h, logits, residual);
    }

    /// <summary>
    /// residual [N, D] += the combine of expertOut's rows (tokenRows, tokenWeights [N, K]; default views
    /// when nothing was kept); with a <paramref name="norm"/> to follow and <see cref="ForwardPass.Fuse"/>,
    /// the norm runs in the same launch (<c>KernelOps.MoeCombineResidualNorm</c>).
    /// </summary>
    private void AddCombined(in ForwardPass pass, ArrayView<float> expertOut, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, FollowingNorm? norm)
    {
        var ops = pass.Device.Ops;
        int n = pass.Tokens, d = _config.Hidden, k = pass.Routing.TopK;
        bool kept = tokenRows.Length > 0;
        if (norm is { } next && pass.Fuse)
        {
            // Nothing kept: the residual is unchanged, only the norm remains.
            if (kept)
                pass.Kernels.MoeCombineResidualNorm(ops, expertOut, tokenRows, tokenWeights, residual, next.Weight, next.Normed, n, k, next.Eps);
            else
                pass.Kernels.RmsNorm(ops, residual, next.Weight, next.Normed, n, next.Eps);
            return;
        }
        var combined = pass.Workspace.Get<float>("moe.combined", (long)n * d);
        if (kept)
            ops.MoeCombine(expertOut, tokenRows, tokenWeights, combined, n, k, d);
        else
            combined.MemSetToZero();
        ops.ResidualAdd(residual, combined, n * d);
        if (norm is { } unfused)
            pass.Kernels.RmsNorm(ops, residual, unfused.Weight, unfused.Normed, n, unfused.Eps);
    }

    /// <summary>Top-k, capacity and dispatch list of the routing group's <paramref name="logits"/> [group N, E] into <paramref name="state"/> (offsets on the host).</summary>
    private void Route(in ForwardPass pass, MoeLayerState state, ArrayView<float> logits)
    {
        var options = pass.Routing;
        // Training stops on NaN router logits (divergence, reported by the trainer); inference and
        // debugging forwards route them like any logits (the lowest expert wins) and save the host round trip.
        if (pass.StopOnNonFinite)
            state.CheckFinite(logits);
        if (options.ExpertBias)
            state.UploadBias(_bias);
        pass.Router.ChooseTopK(logits, options, state.Bias.View, state.TopK);
        pass.Router.Assign(state.TopK.Choices.View, state.TopK.ChoiceProbabilities.View, options, state.Routing);
        state.DownloadOffsets();
    }

    /// <summary>
    /// After the combine: the shared experts and (over the whole routing group of <paramref name="logits"/>)
    /// the router losses; returns the trace when the pass collects one.
    /// </summary>
    private MoeLayerTrace? Finish(in ForwardPass pass, LayerNames names, MoeLayerState state, ArrayView<float> h, ArrayView<float> logits,
        ArrayView<float> residual)
    {
        int n = pass.Tokens, e = _config.Experts;
        // A rank without tokens (expert parallelism) has no residual; it still records the group's losses.
        if (n > 0)
            _shared?.Forward(pass, h, FfnActivations.Allocate(pass, names.Shared, _shared.Value, n), residual, n, accumulate: true);

        if (pass.RouterLosses)
        {
            // The losses' gradient does not depend on the upstream gradient: computed here with the
            // layer's share of each loss weight, added to the router's gradient in the backward.
            var lossGradient = pass.Workspace.Get<float>(names.RouterLossGradient, (long)state.Tokens * e);
            lossGradient.MemSetToZero();
            var (lb, z) = pass.Router.Losses(logits, state.TopK, pass.Routing, lossGradient, pass.LoadBalancingScale, pass.ZLossScale, state.LossScratch);
            state.Record(lb, z);
        }
        return pass.CollectTrace ? state.Trace(e, pass.Routing.TopK) : null;
    }

    /// <summary>
    /// The MoE forward on one of P expert-parallel ranks, identical in its routing to one process on
    /// the ranks' concatenated batch (docs/parallelism.md):
    /// 1. each rank computes its tokens' router logits and all-gathers them: every rank holds the
    ///    global routing group's logits [Ng, E], in rank order;
    /// 2. every rank routes the whole group with the same kernels (top-k, capacity, OpenMoE's drop
    ///    priority: first choices of all ranks before any second choice, then rank, then token), so
    ///    all ranks reach the same decisions without exchanging them, and the router losses are the
    ///    global ones;
    /// 3. each kept assignment's token row goes to its expert's rank (<see cref="ExpertExchange"/>,
    ///    one all-to-all), the owners run their experts on exactly the rows one process would, and
    ///    the outputs come back (a second all-to-all) to be combined on the token's rank.
    /// </summary>
    private MoeLayerTrace? ForwardParallel(in ForwardPass pass, ExpertParallelism parallel, LayerNames names, ArrayView<float> h, ArrayView<float> residual,
        FollowingNorm? norm)
    {
        var options = pass.Routing;
        var device = pass.Device;
        var ws = pass.Workspace;
        var communicator = parallel.Communicator;
        int n = pass.Tokens, d = _config.Hidden, e = _config.Experts, k = options.TopK;
        if (pass.RecordRouting is not null || pass.ReplayRouting is not null)
            throw new InvalidOperationException("Routing record and replay run in one process; drop --expert-parallel for them.");
        var localLogits = n > 0 ? ws.Get<float>(names.RouterLogits, (long)n * e) : default;
        if (n > 0)
            _router.Apply(pass.Gemm, h, localLogits, n);

        int[] tokenCounts = pass.GroupTokens ?? throw new InvalidOperationException("An expert-parallel pass carries every rank's token count.");
        int total = pass.RoutingTokens, start = tokenCounts.AsSpan(0, parallel.Rank).ToArray().Sum();
        var allLogits = new float[(long)total * e];
        communicator.AllGatherVariable<float>(n > 0 ? localLogits.Download() : [], tokenCounts.Select(c => c * e).ToArray(), allLogits);
        var logits = ws.Get<float>("moe.group_logits", (long)total * e);
        logits.CopyFromCPU(allLogits);

        Prepare(pass);
        var state = _state!;
        Route(pass, state, logits);
        var ownerFirstRow = new int[parallel.Size + 1];
        for (int o = 0; o < parallel.Size; o++)
            ownerFirstRow[o] = state.ExpertRows(parallel.ShardOf(o, e).First).First;
        ownerFirstRow[^1] = state.Kept;
        var exchange = ExpertExchange.Plan(state.DownloadRows(), ownerFirstRow, tokenCounts, k, parallel.Rank);
        (_exchange, _groupStart) = (exchange, start);

        var expertInHost = exchange.Dispatch(parallel, n > 0 ? h.Download() : [], d);
        int owned = exchange.OwnedRows, maxRows = total * k;
        var expertOutHost = Array.Empty<float>();
        if (owned > 0)
        {
            var expertIn = KeptRows<float>(ws, names.ExpertIn, owned, maxRows, d);
            var expertOut = KeptRows<float>(ws, names.ExpertOut, owned, maxRows, d);
            expertIn.CopyFromCPU(expertInHost);
            if (pass.KeepActivations)
                ExpertsKeepingActivations(pass, names, state, expertIn, expertOut, maxRows);
            else
                ExpertsWithScratch(pass, names, state, expertIn, expertOut);
            expertOutHost = expertOut.Download();
        }
        var returned = exchange.Return(parallel, expertOutHost, d);
        if (n == 0)
            return Finish(pass, names, state, h, logits, residual);

        if (exchange.SentRows > 0)
        {
            var back = KeptRows<float>(ws, names.Returned, exchange.SentRows, n * k, d);
            back.CopyFromCPU(returned);
            var localRow = ws.Get<int>(names.LocalRow, (long)n * k);
            localRow.CopyFromCPU(exchange.LocalRow);
            var weights = ((ArrayView<float>)state.TopK.Weights.View).SubView((long)start * k, (long)n * k);
            AddCombined(pass, back, localRow, weights, residual, norm);
        }
        else
        {
            AddCombined(pass, default, default, default, residual, norm);
        }
        return Finish(pass, names, state, h, logits, residual);
    }

    /// <summary>
    /// Expert parallelism on a rank with no tokens in this forward: it still takes part in the layer's
    /// collectives (routing the group, both all-to-alls) and runs its experts on the rows the other
    /// ranks send it. Returns the group's trace when the pass collects one.
    /// </summary>
    public MoeLayerTrace? Serve(in ForwardPass pass, LayerNames names) =>
        ForwardParallel(pass, pass.Parallel ?? throw new InvalidOperationException("Only an expert-parallel rank serves experts without tokens."),
            names, default, default, norm: null);

    /// <summary>
    /// Expert <c>_shard.First + i</c>'s rows among this rank's dispatch rows (which start at its first
    /// expert's first row: 0 in one process).
    /// </summary>
    private (int First, int Rows) HeldRows(MoeLayerState state, int i)
    {
        var (first, rows) = state.ExpertRows(_shard.First + i);
        return (first - state.ExpertRows(_shard.First).First, rows);
    }

    /// <summary>Inference runs its experts through a scratch of at most this many bytes (or the largest expert's rows, if more).</summary>
    public const long InferenceExpertScratchBytes = 64L << 20;

    /// <summary>
    /// Every expert's FFN on its contiguous rows, keeping the activations of all kept rows for the
    /// backward; the activation (elementwise, one width for all experts) runs once over all of them.
    /// </summary>
    private void ExpertsKeepingActivations(in ForwardPass pass, LayerNames names, MoeLayerState state,
        ArrayView<float> expertIn, ArrayView<float> expertOut, int maxKept) =>
        ExpertsThrough(pass, state, 0, _experts.Length, expertIn, expertOut, FfnActivations.Allocate(pass, names.Expert, _experts[0], maxKept));

    /// <summary>
    /// Every expert's FFN on its contiguous rows through one scratch: inference keeps nothing, and N*K
    /// rows of activations would cost gigabytes at 8B sizes. The scratch holds up to
    /// <see cref="ForwardPass.ExpertScratchBytes"/> of rows (never fewer than the largest expert's), and
    /// consecutive experts that fit in it together share one activation launch: at small sizes all of
    /// them, so a layer launches one activation, not one per expert.
    /// </summary>
    private void ExpertsWithScratch(in ForwardPass pass, LayerNames names, MoeLayerState state, ArrayView<float> expertIn, ArrayView<float> expertOut)
    {
        var ffn = _experts[0];
        int largest = 0, total = 0;
        for (int x = 0; x < _experts.Length; x++)
        {
            int rows = HeldRows(state, x).Rows;
            largest = Math.Max(largest, rows);
            total += rows;
        }
        long rowBytes = (long)(ffn.Gate.Out + ffn.Width) * sizeof(float);
        int chunkRows = (int)Math.Min(total, Math.Max(largest, pass.ExpertScratchBytes / rowBytes));
        var scratch = FfnActivations.Allocate(pass, names.Expert, ffn, chunkRows);
        for (int from = 0; from < _experts.Length;)
        {
            int to = from, rows = 0;
            while (to < _experts.Length && rows + HeldRows(state, to).Rows <= chunkRows)
                rows += HeldRows(state, to++).Rows;
            ExpertsThrough(pass, state, from, to, expertIn, expertOut, scratch);
            from = to;
        }
    }

    /// <summary>
    /// Experts [<paramref name="from"/>, <paramref name="to"/>) on their contiguous rows of expertIn and
    /// expertOut [rows, D]: each one's gate and up projections into <paramref name="activations"/> (rows
    /// counted from expert <paramref name="from"/>'s first), one activation over all their rows, then each
    /// one's down projection.
    /// </summary>
    private void ExpertsThrough(in ForwardPass pass, MoeLayerState state, int from, int to,
        ArrayView<float> expertIn, ArrayView<float> expertOut, FfnActivations activations)
    {
        int d = _config.Hidden, origin = HeldRows(state, from).First, covered = 0;
        for (int x = from; x < to; x++)
        {
            var (first, rows) = HeldRows(state, x);
            if (rows > 0) // an empty expert's views would start at the end of the kept rows, which ILGPU rejects
                _experts[x].ProjectIn(pass, expertIn.SubView((long)first * d, (long)rows * d), activations.Slice(_experts[x], first - origin, rows), rows);
            covered += rows;
        }
        if (covered == 0)
            return;
        _experts[from].Activate(pass, activations.Slice(_experts[from], 0, covered), covered);
        for (int x = from; x < to; x++)
        {
            var (first, rows) = HeldRows(state, x);
            if (rows > 0)
                _experts[x].ProjectOut(pass, activations.Slice(_experts[x], first - origin, rows), expertOut.SubView((long)first * d, (long)rows * d), rows, accumulate: false);
        }
    }

    /// <summary>
    /// dy [N, D] = d loss / d (MoE output); writes dh [N, D] = d loss / d (MoE input, the normed x),
    /// at the activations the forward kept under <paramref name="names"/>.
    /// </summary>
    public void Backward(in ForwardPass pass, LayerNames names, MoeLayer gradient, ArrayView<float> dy, ArrayView<float> dh)
    {
        if (pass.Parallel is { } parallel)
        {
            BackwardParallel(pass, parallel, names, gradient, dy, dh);
            return;
        }
        var state = _state!;
        var ws = pass.Workspace;
        var backward = pass.Device.Backward;
        int n = pass.Tokens, d = _config.Hidden, e = _config.Experts, k = pass.Routing.TopK, kept = state.Kept;
        var h = ws.Get<float>(names.FfnNormed, (long)n * d);
        var dWeights = ws.Get<float>("bw.moe.dweights", (long)n * k);
        dh.MemSetToZero();
        if (kept > 0)
        {
            int maxKept = n * k;
            var expertIn = KeptRows<float>(ws, names.ExpertIn, kept, maxKept, d);
            var expertOut = KeptRows<float>(ws, names.ExpertOut, kept, maxKept, d);
            var dExpertOut = KeptRows<float>(ws, "bw.moe.dexpert_out", kept, maxKept, d);
            var dExpertIn = KeptRows<float>(ws, "bw.moe.dexpert_in", kept, maxKept, d);
            backward.MoeCombine(dy, expertOut, state.Routing.Row.View, state.TopK.Weights.View, dExpertOut, dWeights, n, k, d);
            ExpertsBackward(pass, names, gradient, state, expertIn, dExpertOut, dExpertIn, kept, maxKept);
            backward.MoeDispatch(dExpertIn, state.Routing.Row.View, dh, n, k, d);
        }
        else
        {
            dWeights.MemSetToZero();
        }
        if (_shared is { } shared)
            shared.Backward(pass, gradient._shared!.Value, h, FfnActivations.Allocate(pass, names.Shared, shared, n), dy, dh, n, n, accumulateDx: true);

        var dLogits = ws.Get<float>("bw.moe.dlogits", (long)n * e);
        backward.RouterSoftmax(state.TopK.Probabilities.View, state.TopK.Choices.View, dWeights, dLogits, n, e, k,
            pass.Routing.Gating == Gating.RenormalizedTopK, pass.Routing.Scoring == RouterScoring.Sigmoid);
        pass.Device.Ops.ResidualAdd(dLogits, ws.Get<float>(names.RouterLossGradient, (long)n * e), n * e);
        _router.Backward(pass.Gemm, gradient._router, h, dLogits, dh, n, accumulateDx: true);
    }

    /// <summary>
    /// The held experts' backwards on their rows of this rank's <paramref name="heldRows"/> dispatch rows: weight
    /// gradients into <paramref name="gradient"/>, dExpertIn [held, D] from dExpertOut [held, D], at the
    /// activations the forward kept (buffers of <paramref name="maxRows"/> rows, as the forward made them).
    /// </summary>
    private void ExpertsBackward(in ForwardPass pass, LayerNames names, MoeLayer gradient, MoeLayerState state,
        ArrayView<float> expertIn, ArrayView<float> dExpertOut, ArrayView<float> dExpertIn, int heldRows, int maxRows)
    {
        int d = _config.Hidden;
        var saved = FfnActivations.Allocate(pass, names.Expert, _experts[0], maxRows);
        var scratch = FfnGradients.Allocate(pass, _experts[0], maxRows);
        for (int x = 0; x < _experts.Length; x++)
        {
            var (first, rows) = HeldRows(state, x);
            if (rows > 0)
                _experts[x].BackwardOut(pass, gradient._experts[x], saved.Slice(_experts[x], first, rows),
                    dExpertOut.SubView((long)first * d, (long)rows * d), scratch.Slice(_experts[x], first, rows), rows);
        }
        _experts[0].ActivateBackward(pass, saved.Slice(_experts[0], 0, heldRows), scratch.Slice(_experts[0], 0, heldRows), heldRows);
        for (int x = 0; x < _experts.Length; x++)
        {
            var (first, rows) = HeldRows(state, x);
            if (rows > 0)
                _experts[x].BackwardIn(pass, gradient._experts[x], expertIn.SubView((long)first * d, (long)rows * d),
                    scratch.Slice(_experts[x], first, rows), dExpertIn.SubView((long)first * d, (long)rows * d), rows, accumulateDx: false);
        }
    }

    /// <summary>
    /// The backward of <see cref="ForwardParallel"/>, its exchanges reversed: d(returned outputs) from the
    /// combine goes to the experts' ranks (all-to-all), the owners run their experts' backwards
    /// (accumulating their weight gradients from every rank's tokens), d(expert inputs) comes back
    /// (all-to-all) and is added to each token's dh. The router's backward runs on this rank's rows of the
    /// group's probabilities and router-loss gradient; the router's weight gradient is this rank's part,
    /// summed over the ranks by the gradient all-reduce.
    /// </summary>
    private void BackwardParallel(in ForwardPass pass, ExpertParallelism parallel, LayerNames names, MoeLayer gradient, ArrayView<float> dy, ArrayView<float> dh)
    {
        var state = _state!;
        var exchange = _exchange ?? throw new InvalidOperationException("The backward follows an expert-parallel forward.");
        var ws = pass.Workspace;
        var backward = pass.Device.Backward;
        int n = pass.Tokens, d = _config.Hidden, e = _config.Experts, k = pass.Routing.TopK, start = _groupStart;
        int sent = exchange.SentRows, owned = exchange.OwnedRows, maxRows = state.Tokens * k;
        var h = ws.Get<float>(names.FfnNormed, (long)n * d);
        var dWeights = ws.Get<float>("bw.moe.dweights", (long)n * k);
        var localRow = ws.Get<int>(names.LocalRow, (long)n * k);
        var weights = ((ArrayView<float>)state.TopK.Weights.View).SubView((long)start * k, (long)n * k);
        dh.MemSetToZero();
        var dReturned = Array.Empty<float>();
        if (sent > 0)
        {
            var back = KeptRows<float>(ws, names.Returned, sent, n * k, d);
            var dBack = KeptRows<float>(ws, "bw.moe.dreturned", sent, n * k, d);
            backward.MoeCombine(dy, back, localRow, weights, dBack, dWeights, n, k, d);
            dReturned = dBack.Download();
        }
        else
        {
            dWeights.MemSetToZero();
        }
        var dExpertOutHost = exchange.SendRows(parallel, dReturned, d);
        var dExpertInHost = Array.Empty<float>();
        if (owned > 0)
        {
            var expertIn = KeptRows<float>(ws, names.ExpertIn, owned, maxRows, d);
            var dExpertOut = KeptRows<float>(ws, "bw.moe.dexpert_out", owned, maxRows, d);
            var dExpertIn = KeptRows<float>(ws, "bw.moe.dexpert_in", owned, maxRows, d);
            dExpertOut.CopyFromCPU(dExpertOutHost);
            ExpertsBackward(pass, names, gradient, state, expertIn, dExpertOut, dExpertIn, owned, maxRows);
            dExpertInHost = dExpertIn.Download();
        }
        var dInput = exchange.Return(parallel, dExpertInHost, d);
        if (sent > 0)
        {
            var dIn = KeptRows<float>(ws, "bw.moe.dreturned_in", sent, n * k, d);
            dIn.CopyFromCPU(dInput);
            backward.MoeDispatch(dIn, localRow, dh, n, k, d);
        }
        if (_shared is { } shared)
            shared.Backward(pass, gradient._shared!.Value, h, FfnActivations.Allocate(pass, names.Shared, shared, n), dy, dh, n, n, accumulateDx: true);

        var dLogits = ws.Get<float>("bw.moe.dlogits", (long)n * e);
        var probabilities = ((ArrayView<float>)state.TopK.Probabilities.View).SubView((long)start * e, (long)n * e);
        var choices = ((ArrayView<int>)state.TopK.Choices.View).SubView((long)start * k, (long)n * k);
        backward.RouterSoftmax(probabilities, choices, dWeights, dLogits, n, e, k,
            pass.Routing.Gating == Gating.RenormalizedTopK, pass.Routing.Scoring == RouterScoring.Sigmoid);
        var lossGradient = ws.Get<float>(names.RouterLossGradient, (long)state.Tokens * e).SubView((long)start * e, (long)n * e);
        pass.Device.Ops.ResidualAdd(dLogits, lossGradient, n * e);
        _router.Backward(pass.Gemm, gradient._router, h, dLogits, dh, n, accumulateDx: true);
    }

    /// <summary>
    /// The first <paramref name="rows"/> rows of a [maxRows, width] workspace buffer: the kept assignments
    /// change every step, so buffers are made for the most there can be (N*K) and never regrow.
    /// </summary>
    private static ArrayView<T> KeptRows<T>(Workspace ws, string name, int rows, int maxRows, long width) where T : unmanaged =>
        ws.Get<T>(name, maxRows * width).SubView(0, rows * width);

    public void Dispose() => _state?.Dispose();
}
