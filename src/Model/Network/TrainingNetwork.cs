using System.Collections.Immutable;
using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// The network of <see cref="MoeTransformer"/> with a gradient for every parameter: one step runs
/// the same layers' forwards, keeping their activations under layer-scoped names ("L3.attn.q"),
/// then their backwards in reverse, accumulating d loss / d parameter into <see cref="Gradients"/>
/// (same names and shapes as <see cref="Weights"/>), for
/// loss = mean CE over target tokens + LB weight * mean load-balance + z weight * mean router z-loss.
/// Every buffer (device workspace, routing, pinned host staging) is made on the first step of a
/// batch shape and reused, so steady steps of one shape allocate no device or managed memory
/// beyond what ILGPU itself allocates per kernel launch (docs/training.md, Throughput).
/// </summary>
public sealed class TrainingNetwork : IDisposable
{
    private readonly MoeTransformer _model;
    private readonly ComputeDevice _device;
    private readonly HostStaging _host;
    private readonly EmbeddingLayer.BackwardStaging _embeddingStaging;
    // The network's layers bound to the gradient buffers: each layer's gradient twin.
    private readonly EmbeddingLayer _embeddingGradient;
    private readonly DecoderLayer[] _layerGradients;
    private readonly OutputHead _headGradient;
    private ImmutableArray<MoeLayerStep> _moeSteps = [];
    private readonly (double LoadBalancing, double ZLoss)[] _routerLosses;
    private RoutingOptions? _routing;
    private ModelConfig? _routingConfig;
    private readonly ParallelLayout? _layout;

    /// <summary>
    /// Builds the training network over <paramref name="weights"/> (which it then owns) on <paramref name="device"/>.
    /// With <paramref name="layout"/>, this is one rank of an expert- and data-parallel job: the weights
    /// hold its expert shard, each step is a collective of its replica, and the gradients are this
    /// rank's part (ParallelGradients in OpenMoE.Training reduces them over the ranks).
    /// </summary>
    public TrainingNetwork(ComputeDevice device, ModelSpecInfo spec, DeviceWeights weights, ParallelLayout? layout = null)
    {
        _device = device;
        Spec = spec;
        _layout = layout;
        _model = new MoeTransformer(device, spec, weights, layout?.Experts);
        Gradients = DeviceWeights.Load(device, spec, p => new float[p.Elements], weights.Experts);
        _host = new HostStaging(device);
        var config = spec.Config;
        _embeddingStaging = new EmbeddingLayer.BackwardStaging(device, config.Vocab);
        _embeddingGradient = new EmbeddingLayer(config, Gradients);
        _layerGradients = Enumerable.Range(0, config.Layers).Select(l => new DecoderLayer(config, Gradients, l)).ToArray();
        _headGradient = new OutputHead(config, Gradients);
        _routerLosses = new (double, double)[config.MoeLayers.Count];
    }

    /// <summary>The spec trained.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The parameters (updated in place by the optimizer).</summary>
    public DeviceWeights Weights => _model.Weights;

    /// <summary>d loss / d parameter of the last <see cref="ForwardBackward"/>, per tensor.</summary>
    public DeviceWeights Gradients { get; }

    /// <summary>The network itself (its intermediates after a step: <see cref="MoeTransformer.Intermediates"/>).</summary>
    public MoeTransformer Model => _model;

    /// <summary>When set, every step adds its routing decisions to it.</summary>
    public RoutingRecorder? RecordRouting { get; set; }

    /// <summary>When set, every step routes as this recording says (counting what a fresh routing would have changed).</summary>
    public RoutingReplay? ReplayRouting { get; set; }

    /// <summary>Weights of the router losses in the total loss (OpenMoE: 0.01 and 1e-4).</summary>
    public RouterLossWeights LossWeights { get; init; } = new();

    /// <summary>Name of the GEMM provider in use.</summary>
    public string GemmName => _model.GemmName;

    /// <summary>
    /// One forward and backward. inputs [B*T] token ids, targets [B*T] the id each position must
    /// predict or -1 (not a target). Gradients are overwritten (not accumulated across calls).
    /// The returned per-layer records are overwritten by the next call. Under a parallel layout the
    /// inputs are this rank's share of its replica's batch; the loss is the replica's (mean CE over all
    /// its ranks' targets plus the router losses of its one routing group), the losses returned are
    /// averaged over the replicas, and <see cref="StepLosses.Targets"/> counts every replica's targets.
    /// </summary>
    public StepLosses ForwardBackward(int[] inputs, int[] targets, int batch, double capacityFactor)
    {
        var config = Spec.Config;
        int n = inputs.Length, time = n / batch, v = config.Vocab;
        if (batch < 1 || n == 0 || n % batch != 0 || targets.Length != n || time > config.ContextLength)
            throw new ArgumentException($"Expected inputs and targets of B*T tokens (B = {batch}, T <= {config.ContextLength}); got {inputs.Length} and {targets.Length}.");
        int targetCount = 0;
        for (int i = 0; i < n; i++)
        {
            if ((uint)inputs[i] >= (uint)v || targets[i] >= v)
                throw new ArgumentException($"Token id at index {i} is outside the vocabulary [0, {v}) of {config.Name}.");
            if (targets[i] >= 0) targetCount++;
        }
        int moeLayers = _routerLosses.Length;
        RecordRouting?.BeginBatch(inputs, batch, time);
        ReplayRouting?.BeginBatch(inputs, batch, time);
        var pass = _model.Pass(batch, time, cache: null, RoutingFor(capacityFactor), keepActivations: true, collectTrace: false,
            stopOnNonFinite: true, routerLosses: true, LossWeights.LoadBalancingGradientScale(moeLayers), LossWeights.ZLossGradientScale(moeLayers))
            with { RecordRouting = RecordRouting, ReplayRouting = ReplayRouting };
        PrepareMoeLayers(pass);

        var ws = _model.Workspace;
        var tokenView = ws.Get<int>("tokens", n);
        _host.Upload<int>("tokens", inputs, tokenView);
        var targetView = ws.Get<int>("targets", n);
        _host.Upload<int>("targets", targets, targetView);

        long start = Stopwatch.GetTimestamp();
        var x = _model.Embedding.Forward(pass, tokenView);
        foreach (var layer in _model.Layers)
            layer.Forward(pass, x);
        var logits = _model.Head.Forward(pass, x, n);
        var rowLoss = ws.Get<float>("final.row_loss", n);
        var rowLse = ws.Get<float>("final.row_lse", n);
        var ceResult = ws.Get<float>("final.ce", 2);
        _device.Ops.CrossEntropy(logits, targetView, rowLoss, rowLse, ceResult, n, v);
        _device.Synchronize();
        double forwardSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        ZeroGradients();
        // The logits buffer becomes d loss / d logits.
        int groupTargets = _layout is null ? targetCount : (int)SumOver(_layout.ExpertGroup, targetCount);
        _device.Backward.CrossEntropy(logits, targetView, rowLse, logits, n, v, groupTargets > 0 ? 1f / groupTargets : 0f);
        var dx = _model.Head.Backward(pass, _headGradient, logits);
        for (int l = _model.Layers.Length - 1; l >= 0; l--)
            _model.Layers[l].Backward(pass, _layerGradients[l], dx);
        _model.Embedding.Backward(pass, _embeddingGradient, inputs, dx, _embeddingStaging, _host);

        var ce = _host.Download("ce", ceResult.SubView(0, 1))[0];
        for (int m = 0; m < _moeSteps.Length; m++)
            _routerLosses[m] = (_moeSteps[m].LoadBalancing, _moeSteps[m].ZLoss);
        var (lb, z, routerTotal) = LossWeights.Combine(_routerLosses);
        if (_layout is null)
            return new StepLosses(ce, lb, z, ce + routerTotal, targetCount, _moeSteps, forwardSeconds);
        // The replica's CE weighs each rank's mean by its targets; the router losses are already the group's.
        double groupCe = groupTargets > 0 ? SumOver(_layout.ExpertGroup, ce * targetCount) / groupTargets : 0;
        var replicas = new[] { groupCe, lb, z, groupCe + routerTotal, groupTargets };
        _layout.DataGroup.AllReduceSum(replicas);
        int d = _layout.DataParallelSize;
        return new StepLosses(replicas[0] / d, replicas[1] / d, replicas[2] / d, replicas[3] / d, (int)replicas[4], _moeSteps, forwardSeconds);
    }

    private static double SumOver(Runtime.Communication.ICommunicator group, double value)
    {
        var sum = new[] { value };
        group.AllReduceSum(sum);
        return sum[0];
    }

    /// <summary>The routing options for <paramref name="capacityFactor"/>, made once per factor.</summary>
    private RoutingOptions RoutingFor(double capacityFactor)
    {
        if (_routing is null || _routing.CapacityFactor != capacityFactor || _routingConfig != _model.RoutingConfig)
        {
            _routingConfig = _model.RoutingConfig;
            _routing = RoutingOptions.FromConfig(_routingConfig, training: true) with { CapacityFactor = capacityFactor };
        }
        return _routing;
    }

    /// <summary>
    /// Auxiliary-loss-free balancing, after each optimizer step: moves every MoE layer's expert bias by
    /// the rule's rate towards uniform load of the latest forward (no-op for rules without a bias).
    /// </summary>
    public void UpdateExpertBias()
    {
        var options = _routing ?? throw new InvalidOperationException("The bias moves after a training step.");
        if (!options.ExpertBias)
            return;
        foreach (var layer in _model.Layers)
            layer.Moe?.UpdateExpertBias(options.BiasUpdateRate);
    }

    /// <summary>Routing buffers of every MoE layer for the pass's batch shape; the per-layer records are re-listed when they change.</summary>
    private void PrepareMoeLayers(in ForwardPass pass)
    {
        // A layer's buffers (and its step record) are re-made when the shape changes, here or in a
        // forward of another shape through Model in between: list the records anew whenever one is not the listed one.
        bool changed = _moeSteps.Length != _routerLosses.Length;
        int m = 0;
        foreach (var layer in _model.Layers)
        {
            if (layer.Moe is not { } moe)
                continue;
            moe.Prepare(pass);
            changed |= m >= _moeSteps.Length || !ReferenceEquals(_moeSteps[m], moe.Step);
            m++;
        }
        if (changed)
            _moeSteps = [.. _model.Layers.Where(layer => layer.Moe is not null).Select(layer => layer.Moe!.Step!)];
    }

    private void ZeroGradients()
    {
        // Indexed, not foreach: an enumerator over the interface would be the step's only allocation.
        var held = Gradients.Held;
        for (int i = 0; i < held.Count; i++)
            Gradients[held[i]].MemSetToZero();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _host.Dispose();
        _embeddingStaging.Dispose();
        foreach (var layer in _layerGradients)
            layer.Dispose();
        Gradients.Dispose();
        _model.Dispose();
    }
}
