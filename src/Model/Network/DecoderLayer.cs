using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>Everything one layer's forward needs besides its own weights.</summary>
internal sealed record LayerContext(
    ComputeDevice Device, IGemmProvider Gemm, DeviceRouter Router, Workspace Workspace,
    int Batch, int Time, KvCache? Cache, RoutingOptions Routing, bool CollectTrace)
{
    public int Tokens => Batch * Time;
}

/// <summary>
/// One pre-norm decoder layer (DESIGN §2.1): attention, then a dense FFN or a MoE sublayer
/// (followed by OpenMoE's sequential extra FFN with its own norm).
/// </summary>
internal sealed class DecoderLayer
{
    private readonly ModelConfig _config;
    private readonly AttentionBlock _attention;
    private readonly ArrayView<float> _attentionNorm;
    private readonly ArrayView<float> _ffnNorm;
    private readonly FeedForward? _dense;
    private readonly MoeBlock? _moe;
    private readonly FeedForward? _extra;
    private readonly ArrayView<float> _extraNorm;

    public DecoderLayer(ModelConfig config, DeviceWeights weights, int layer)
    {
        _config = config;
        _attention = new AttentionBlock(config, weights, layer);
        _attentionNorm = weights.Get(layer, ParameterRole.AttentionNorm);
        _ffnNorm = weights.Get(layer, ParameterRole.FfnNorm);
        if (!config.IsMoeLayer(layer))
        {
            _dense = FeedForward.Linear(weights, config, layer, ParameterRole.DenseGate, ParameterRole.DenseUp, ParameterRole.DenseDown);
            return;
        }
        _moe = new MoeBlock(config, weights, layer);
        if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
        {
            _extra = FeedForward.Linear(weights, config, layer, ParameterRole.ExtraGate, ParameterRole.ExtraUp, ParameterRole.ExtraDown);
            _extraNorm = weights.Get(layer, ParameterRole.ExtraNorm);
        }
    }

    /// <summary>x [N, D] is updated in place; h [N, D] is scratch. Returns the MoE trace, if any.</summary>
    public MoeLayerTrace? Forward(LayerContext c, ArrayView<float> x, ArrayView<float> h)
    {
        int n = c.Tokens, d = _config.Hidden;
        float eps = (float)_config.NormEps;
        c.Device.Ops.RmsNorm(x, _attentionNorm, h, n, d, eps);
        _attention.AddTo(c.Device, c.Gemm, c.Workspace, h, x, c.Batch, c.Time, c.Cache);

        c.Device.Ops.RmsNorm(x, _ffnNorm, h, n, d, eps);
        if (_dense is { } dense)
        {
            dense.Apply(c.Device, c.Gemm, c.Workspace, h, x, n, accumulate: true);
            return null;
        }
        var trace = _moe!.AddTo(c.Device, c.Gemm, c.Router, c.Workspace, h, x, n, c.Routing, c.CollectTrace);
        if (_extra is { } extra)
        {
            c.Device.Ops.RmsNorm(x, _extraNorm, h, n, d, eps);
            extra.Apply(c.Device, c.Gemm, c.Workspace, h, x, n, accumulate: true);
        }
        return trace;
    }
}
