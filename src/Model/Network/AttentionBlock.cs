using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// Causal multi-head attention of one layer (DESIGN §2.1): q, k, v projections without bias, RoPE
/// (rotate-half) on q and k, causal softmax attention with the spec's logit scale (none for OpenMoE),
/// output projection added to the residual.
/// </summary>
public sealed class AttentionBlock(ModelConfig config, DeviceWeights weights, int layer)
{
    private readonly Projection _q = Projection.Linear(weights.Get(layer, ParameterRole.Query), config.Hidden, config.Heads * config.HeadDim);
    private readonly Projection _k = Projection.Linear(weights.Get(layer, ParameterRole.Key), config.Hidden, config.KvHeads * config.HeadDim);
    private readonly Projection _v = Projection.Linear(weights.Get(layer, ParameterRole.Value), config.Hidden, config.KvHeads * config.HeadDim);
    private readonly Projection _o = Projection.Linear(weights.Get(layer, ParameterRole.AttentionOutput), config.Heads * config.HeadDim, config.Hidden);

    /// <summary>
    /// residual [B*T, D] += Attention(h [B*T, D]) for tokens at positions [p0, p0 + T), p0 = cache length
    /// (0 without a cache). With a cache, this layer's keys and values are appended to it.
    /// </summary>
    public void AddTo(ComputeDevice device, IGemmProvider gemm, Workspace workspace, ArrayView<float> h, ArrayView<float> residual,
        int batch, int time, KvCache? cache)
    {
        int n = batch * time;
        int hd = config.HeadDim;
        var q = workspace.Get<float>("attn.q", (long)n * _q.Out);
        var k = workspace.Get<float>("attn.k", (long)n * _k.Out);
        var v = workspace.Get<float>("attn.v", (long)n * _v.Out);
        var o = workspace.Get<float>("attn.o", (long)n * _q.Out);
        _q.Apply(gemm, h, q, n);
        _k.Apply(gemm, h, k, n);
        _v.Apply(gemm, h, v, n);

        int past = cache?.Length ?? 0;
        var rope = new RopeShape { Batch = batch, Time = time, HeadDim = hd, PositionOffset = past, Theta = (float)config.RopeTheta };
        device.Ops.Rope(q, rope with { Heads = config.Heads });
        device.Ops.Rope(k, rope with { Heads = config.KvHeads });

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
        var shape = new AttentionShape
        {
            Batch = batch, QueryTime = time, PastLength = past, CacheLength = cacheLength,
            Heads = config.Heads, KvHeads = config.KvHeads, HeadDim = hd, Scale = LogitScale(config),
        };
        device.Ops.Attention(q, keys, values, o, shape);
        _o.Apply(gemm, o, residual, n, accumulate: true);
    }

    /// <summary>1 for OpenMoE (the scale is folded into the query initialisation), else 1/sqrt(hd).</summary>
    public static float LogitScale(ModelConfig config) => config.AttentionScale switch
    {
        AttentionScale.None => 1f,
        AttentionScale.InverseSqrtHeadDim => 1f / MathF.Sqrt(config.HeadDim),
        _ => throw new InvalidOperationException($"Unknown attention scale {config.AttentionScale}."),
    };
}
