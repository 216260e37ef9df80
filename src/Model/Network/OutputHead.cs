using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network;

/// <summary>
/// After the last layer (DESIGN §2.1): the final RMSNorm and the LM head, untied in OpenMoE
/// (the embedding matrix when a spec ties them), logits in fp32. Its backward follows its forward.
/// </summary>
internal sealed class OutputHead
{
    private readonly ModelConfig _config;
    private readonly ArrayView<float> _norm; // [D]
    private readonly Projection _head;       // [V, D] as a Hugging Face linear

    /// <summary>Binds the final norm and the head in <paramref name="weights"/> (the weights, or their gradients).</summary>
    public OutputHead(ModelConfig config, DeviceWeights weights)
    {
        _config = config;
        _norm = weights.Get(-1, ParameterRole.FinalNorm);
        var head = config.TiedEmbeddings ? weights.Get(-1, ParameterRole.Embedding) : weights.Get(-1, ParameterRole.LmHead);
        _head = Projection.Linear(head, config.Hidden, config.Vocab);
    }

    /// <summary>
    /// logits [rows, V] = LMHead(RMSNorm(x [rows, D])). A pass that keeps activations copies x to
    /// "final.x" first (the backward needs the norm's input, and x is the residual stream's buffer).
    /// </summary>
    public ArrayView<float> Forward(in ForwardPass pass, ArrayView<float> x, int rows)
    {
        int d = _config.Hidden;
        var ws = pass.Workspace;
        if (pass.KeepActivations)
        {
            var kept = ws.Get<float>("final.x", (long)rows * d);
            x.CopyTo(kept);
            x = kept;
        }
        // Kept names only in a pass that keeps activations, so a later plain forward leaves them as they were.
        var normed = ws.Get<float>(pass.KeepActivations ? "final.normed" : "head.normed", (long)rows * d);
        pass.Kernels.RmsNorm(pass.Device.Ops, x, _norm, normed, rows, (float)_config.NormEps);
        var logits = ws.Get<float>(pass.KeepActivations ? "final.logits" : "head.logits", (long)rows * _config.Vocab);
        _head.Apply(pass.Gemm, normed, logits, rows);
        return logits;
    }

    /// <summary>
    /// From dLogits [N, V], dx [N, D] = d loss / d (last layer's output) (overwritten); the head's and
    /// the norm's gradients into <paramref name="gradient"/>.
    /// </summary>
    public ArrayView<float> Backward(in ForwardPass pass, OutputHead gradient, ArrayView<float> dLogits)
    {
        int n = pass.Tokens, d = _config.Hidden;
        var ws = pass.Workspace;
        var dNormed = ws.Get<float>("bw.dh", (long)n * d);
        _head.Backward(pass.Gemm, gradient._head, ws.Get<float>("final.normed", (long)n * d), dLogits, dNormed, n);
        var dx = ws.Get<float>("bw.dx", (long)n * d);
        dx.MemSetToZero();
        pass.Device.Backward.RmsNorm(ws.Get<float>("final.x", (long)n * d), _norm, dNormed, dx, gradient._norm, ws.Get<float>("bw.row_scale", n),
            n, d, (float)_config.NormEps);
        return dx;
    }
}
