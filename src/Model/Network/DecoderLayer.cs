using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network;

/// <summary>
/// One pre-norm decoder layer (DESIGN §2.1): attention, then a dense FFN or a MoE sublayer
/// (followed by OpenMoE's sequential extra FFN with its own norm). The same type bound to the
/// gradient buffers is the layer's gradient in <see cref="Backward"/>.
/// </summary>
internal sealed class DecoderLayer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly LayerNames _names;
    private readonly AttentionLayer _attention;
    private readonly ArrayView<float> _attentionNorm;
    private readonly ArrayView<float> _ffnNorm;
    private readonly FeedForward? _dense;
    private readonly MoeLayer? _moe;
    private readonly FeedForward? _extra;
    private readonly ArrayView<float> _extraNorm;

    /// <summary>Binds layer <paramref name="layer"/>'s tensors in <paramref name="weights"/> (the weights, or their gradients).</summary>
    public DecoderLayer(ModelConfig config, DeviceWeights weights, int layer)
    {
        _config = config;
        _names = LayerNames.ForLayer(layer);
        _attention = new AttentionLayer(config, weights, layer);
        _attentionNorm = weights.Get(layer, ParameterRole.AttentionNorm);
        _ffnNorm = weights.Get(layer, ParameterRole.FfnNorm);
        if (!config.IsMoeLayer(layer))
        {
            _dense = FeedForward.Linear(weights, config, layer, ParameterRole.DenseGate, ParameterRole.DenseUp, ParameterRole.DenseDown);
            return;
        }
        _moe = new MoeLayer(config, weights, layer);
        if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
        {
            _extra = FeedForward.Linear(weights, config, layer, ParameterRole.ExtraGate, ParameterRole.ExtraUp, ParameterRole.ExtraDown);
            _extraNorm = weights.Get(layer, ParameterRole.ExtraNorm);
        }
    }

    /// <summary>The MoE sublayer, or null in a dense layer.</summary>
    public MoeLayer? Moe => _moe;

    /// <summary>The names this layer's intermediates have in a pass that keeps them.</summary>
    public LayerNames KeptNames => _names;

    private LayerNames Names(in ForwardPass pass) => pass.KeepActivations ? _names : LayerNames.SharedScratch;

    /// <summary>x [N, D] is updated in place. Returns the MoE trace when the pass collects one.</summary>
    public MoeLayerTrace? Forward(in ForwardPass pass, ArrayView<float> x)
    {
        var names = Names(pass);
        var h = Normed(pass, names.AttentionIn, names.AttentionNormed, x, _attentionNorm);
        _attention.Forward(pass, names, h, x);

        h = Normed(pass, names.FfnIn, names.FfnNormed, x, _ffnNorm);
        if (_dense is { } dense)
        {
            dense.Forward(pass, h, FfnActivations.Allocate(pass, names.Dense, dense, pass.Tokens), x, pass.Tokens, accumulate: true);
            return null;
        }
        if (_extra is not { } extra)
            return _moe!.Forward(pass, names, h, x);
        // The MoE sublayer runs the extra FFN's norm itself, fused with its combine and residual add.
        long size = (long)pass.Tokens * _config.Hidden;
        var extraNormed = pass.Workspace.Get<float>(names.ExtraNormed, size);
        var trace = _moe!.Forward(pass, names, h, x, new FollowingNorm(_extraNorm, extraNormed, (float)_config.NormEps));
        if (pass.KeepActivations)
            x.CopyTo(pass.Workspace.Get<float>(names.ExtraIn, size));
        extra.Forward(pass, extraNormed, FfnActivations.Allocate(pass, names.Extra, extra, pass.Tokens), x, pass.Tokens, accumulate: true);
        return trace;
    }

    /// <summary>
    /// RMSNorm(x) into the buffer <paramref name="normedName"/>; a pass that keeps activations also
    /// copies x (the residual stream at this point, which the layer then updates in place) to <paramref name="inputName"/>.
    /// </summary>
    private ArrayView<float> Normed(in ForwardPass pass, string inputName, string normedName, ArrayView<float> x, ArrayView<float> weight)
    {
        long size = (long)pass.Tokens * _config.Hidden;
        if (pass.KeepActivations)
            x.CopyTo(pass.Workspace.Get<float>(inputName, size));
        var h = pass.Workspace.Get<float>(normedName, size);
        pass.Kernels.RmsNorm(pass.Device.Ops, x, weight, h, pass.Tokens, (float)_config.NormEps);
        return h;
    }

    /// <summary>Expert parallelism, a rank without tokens: the MoE layer's collectives and this rank's experts (dense layers: nothing).</summary>
    public MoeLayerTrace? Serve(in ForwardPass pass) => _moe?.Serve(pass, Names(pass));

    /// <summary>
    /// dx [N, D] is d loss / d (layer output) on entry and d loss / d (layer input) on exit, after a
    /// forward that kept its activations; weight gradients go into <paramref name="gradient"/>.
    /// </summary>
    public void Backward(in ForwardPass pass, DecoderLayer gradient, ArrayView<float> dx)
    {
        var names = _names;
        var ws = pass.Workspace;
        int n = pass.Tokens;
        var dh = ws.Get<float>("bw.dh", (long)n * _config.Hidden);
        if (_dense is { } dense)
        {
            dense.Backward(pass, gradient._dense!.Value, ws.Get<float>(names.FfnNormed, (long)n * _config.Hidden),
                FfnActivations.Allocate(pass, names.Dense, dense, n), dx, dh, n, n, accumulateDx: false);
        }
        else
        {
            if (_extra is { } extra)
            {
                extra.Backward(pass, gradient._extra!.Value, ws.Get<float>(names.ExtraNormed, (long)n * _config.Hidden),
                    FfnActivations.Allocate(pass, names.Extra, extra, n), dx, dh, n, n, accumulateDx: false);
                NormBackward(pass, names.ExtraIn, _extraNorm, gradient._extraNorm, dh, dx);
            }
            _moe!.Backward(pass, names, gradient._moe!, dx, dh);
        }
        NormBackward(pass, names.FfnIn, _ffnNorm, gradient._ffnNorm, dh, dx);
        _attention.Backward(pass, names, gradient._attention, dx, dh);
        NormBackward(pass, names.AttentionIn, _attentionNorm, gradient._attentionNorm, dh, dx);
    }

    /// <summary>dx += RMSNorm backward of dh at the kept input; the weight's gradient into dWeight.</summary>
    private void NormBackward(in ForwardPass pass, string inputName, ArrayView<float> weight, ArrayView<float> dWeight, ArrayView<float> dh, ArrayView<float> dx)
    {
        int n = pass.Tokens, d = _config.Hidden;
        var ws = pass.Workspace;
        pass.Device.Backward.RmsNorm(ws.Get<float>(inputName, (long)n * d), weight, dh, dx, dWeight, ws.Get<float>("bw.row_scale", n),
            n, d, (float)_config.NormEps);
    }

    public void Dispose() => _moe?.Dispose();
}
