using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// Causal multi-head attention of one layer (DESIGN §2.1): q, k, v projections without bias, RoPE
/// (rotate-half) on q and k, causal softmax attention with the spec's logit scale (none for OpenMoE),
/// output projection added to the residual. Its backward follows its forward.
/// </summary>
internal sealed class AttentionLayer(ModelConfig config, DeviceWeights weights, int layer)
{
    private readonly Projection _q = Projection.Linear(weights.Get(layer, ParameterRole.Query), config.Hidden, config.Heads * config.HeadDim);
    private readonly Projection _k = Projection.Linear(weights.Get(layer, ParameterRole.Key), config.Hidden, config.KvHeads * config.HeadDim);
    private readonly Projection _v = Projection.Linear(weights.Get(layer, ParameterRole.Value), config.Hidden, config.KvHeads * config.HeadDim);
    private readonly Projection _o = Projection.Linear(weights.Get(layer, ParameterRole.AttentionOutput), config.Heads * config.HeadDim, config.Hidden);

    /// <summary>Inference runs GEMM attention only while its scores [B, H, T, T] stay below this (64 MiB).</summary>
    public const long InferenceScoresBudgetBytes = 64L << 20;

    /// <summary>
    /// How attention runs: the one place that chooses, per device. GEMM attention
    /// (<see cref="GemmAttention"/>: scores and probabilities as GEMMs plus a row softmax, the O(T²) work
    /// in the GEMM provider) needs full sequences of multi-head attention and a [B, H, T, T] buffer.
    /// Training runs it on every device (the probabilities it keeps make the backward two GEMMs per
    /// head). Inference runs it on the CPU accelerator, where `bench attention` measured it faster than
    /// the host SIMD kernel, while the scores fit <see cref="InferenceScoresBudgetBytes"/>; CUDA inference,
    /// cached decoding and grouped-query attention run the fused kernel (<c>KernelOps.Attention</c>).
    /// </summary>
    public static bool UsesGemmAttention(ModelConfig config, KvCache? cache, in ForwardPass pass)
    {
        if (cache is not null || config.KvHeads != config.Heads)
            return false;
        if (pass.KeepActivations)
            return true;
        long scoresBytes = (long)pass.Batch * config.Heads * pass.Time * pass.Time * sizeof(float);
        return pass.Device.Kind == DeviceKind.Cpu && scoresBytes <= InferenceScoresBudgetBytes;
    }

    /// <summary>
    /// residual [B*T, D] += Attention(h [B*T, D]) for tokens at positions [p0, p0 + T), p0 = cache length
    /// (0 without a cache). With a cache, this layer's keys and values are appended to it.
    /// </summary>
    public void Forward(in ForwardPass pass, LayerNames names, ArrayView<float> h, ArrayView<float> residual)
    {
        int n = pass.Tokens, batch = pass.Batch, time = pass.Time;
        var ws = pass.Workspace;
        var q = ws.Get<float>(names.Query, (long)n * _q.Out);
        var k = ws.Get<float>(names.Key, (long)n * _k.Out);
        var v = ws.Get<float>(names.Value, (long)n * _v.Out);
        var o = ws.Get<float>(names.AttentionOut, (long)n * _q.Out);
        _q.Apply(pass.Gemm, h, q, n);
        _k.Apply(pass.Gemm, h, k, n);
        _v.Apply(pass.Gemm, h, v, n);

        var cache = pass.Cache;
        int past = cache?.Length ?? 0;
        var rope = RopeShape(batch, time, past) with { Heads = config.Heads };
        if (pass.Fuse)
        {
            pass.Kernels.RopeQueryKey(pass.Device.Ops, q, k, rope);
        }
        else
        {
            pass.Device.Ops.Rope(q, rope);
            pass.Device.Ops.Rope(k, rope with { Heads = config.KvHeads });
        }

        if (UsesGemmAttention(config, cache, pass))
        {
            GemmAttention.Forward(pass, q, k, v, ws.Get<float>(names.Probabilities, (long)batch * config.Heads * time * time), o,
                config.Heads, config.HeadDim, LogitScale(config));
        }
        else
        {
            var keys = k;
            var values = v;
            int cacheLength = time;
            if (cache is not null)
            {
                cache.Write(layer, k, v, time);
                keys = cache.Keys(layer);
                values = cache.Values(layer);
                cacheLength = cache.Capacity;
            }
            pass.Kernels.Attention(pass.Device.Ops, q, keys, values, o, AttentionShape(batch, time, past, cacheLength));
        }
        _o.Apply(pass.Gemm, o, residual, n, accumulate: true);
    }

    /// <summary>
    /// From dResidual [N, D] (the gradient of the layer's output), dh [N, D] = d loss / d h
    /// (overwritten), at the activations the forward kept under <paramref name="names"/>; weight
    /// gradients into <paramref name="gradient"/> (this layer bound to the gradient buffers).
    /// </summary>
    public void Backward(in ForwardPass pass, LayerNames names, AttentionLayer gradient, ArrayView<float> dResidual, ArrayView<float> dh)
    {
        int n = pass.Tokens, batch = pass.Batch, time = pass.Time, d = config.Hidden;
        var ws = pass.Workspace;
        var q = ws.Get<float>(names.Query, (long)n * _q.Out);
        var k = ws.Get<float>(names.Key, (long)n * _k.Out);
        var v = ws.Get<float>(names.Value, (long)n * _v.Out);
        var o = ws.Get<float>(names.AttentionOut, (long)n * _q.Out);
        var dO = ws.Get<float>("bw.attn.do", (long)n * _q.Out);
        var dq = ws.Get<float>("bw.attn.dq", (long)n * _q.Out);
        var dk = ws.Get<float>("bw.attn.dk", (long)n * _k.Out);
        var dv = ws.Get<float>("bw.attn.dv", (long)n * _v.Out);
        _o.Backward(pass.Gemm, gradient._o, o, dResidual, dO, n);
        if (UsesGemmAttention(config, cache: null, pass))
        {
            long scores = (long)batch * config.Heads * time * time;
            GemmAttention.Backward(pass, q, k, v, ws.Get<float>(names.Probabilities, scores), dO, ws.Get<float>("bw.attn.dp", scores),
                dq, dk, dv, config.Heads, config.HeadDim, LogitScale(config));
        }
        else
        {
            pass.Device.Backward.Attention(q, k, v, o, dO, dq, dk, dv, ws.Get<float>("bw.attn.lse", (long)n * config.Heads),
                ws.Get<float>("bw.attn.delta", (long)n * config.Heads), AttentionShape(batch, time, 0, time));
        }
        var rope = RopeShape(batch, time, 0);
        pass.Device.Backward.Rope(dq, rope with { Heads = config.Heads });
        pass.Device.Backward.Rope(dk, rope with { Heads = config.KvHeads });
        var h = ws.Get<float>(names.AttentionNormed, (long)n * d);
        _q.Backward(pass.Gemm, gradient._q, h, dq, dh, n);
        _k.Backward(pass.Gemm, gradient._k, h, dk, dh, n, accumulateDx: true);
        _v.Backward(pass.Gemm, gradient._v, h, dv, dh, n, accumulateDx: true);
    }

    /// <summary>1 for OpenMoE (the scale is folded into the query initialisation), else 1/sqrt(hd).</summary>
    public static float LogitScale(ModelConfig config) => config.AttentionScale switch
    {
        AttentionScale.None => 1f,
        AttentionScale.InverseSqrtHeadDim => 1f / MathF.Sqrt(config.HeadDim),
        _ => throw new InvalidOperationException($"Unknown attention scale {config.AttentionScale}."),
    };

    private RopeShape RopeShape(int batch, int time, int past) => new()
    {
        Batch = batch, Time = time, HeadDim = config.HeadDim, PositionOffset = past, Theta = (float)config.RopeTheta,
    };

    private AttentionShape AttentionShape(int batch, int time, int past, int cacheLength) => new()
    {
        Batch = batch, QueryTime = time, PastLength = past, CacheLength = cacheLength,
        Heads = config.Heads, KvHeads = config.KvHeads, HeadDim = config.HeadDim, Scale = LogitScale(config),
    };
}
