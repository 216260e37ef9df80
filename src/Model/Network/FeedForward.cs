using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network;

/// <summary>
/// One feed-forward block (dense, extra, shared or one expert), DESIGN §2.1:
/// OpenMoE gated: <c>g = x·Wg</c> of width 2F, <c>h = g[:F] * silu(g[F:]) * (x·Wup)</c>, <c>out = h·Wdown</c>;
/// SwiGLU: <c>h = silu(x·Wgate) * (x·Wup)</c>, <c>out = h·Wdown</c>.
/// </summary>
internal readonly record struct FeedForward(FfnKind Kind, int Width, Projection Gate, Projection Up, Projection Down)
{
    /// <summary>
    /// y [rows, D] = FFN(x [rows, D]), or y += FFN(x) with <paramref name="accumulate"/>; the
    /// activations go to <paramref name="saved"/> (kept for <see cref="Backward"/> in training).
    /// </summary>
    public void Forward(in ForwardPass pass, ArrayView<float> x, FfnActivations saved, ArrayView<float> y, int rows, bool accumulate)
    {
        if (rows == 0)
            return;
        ProjectIn(pass, x, saved, rows);
        Activate(pass, saved, rows);
        ProjectOut(pass, saved, y, rows, accumulate);
    }

    /// <summary>The forward's first part: saved.Gate = x·Wg, saved.Up = x·Wup.</summary>
    public void ProjectIn(in ForwardPass pass, ArrayView<float> x, FfnActivations saved, int rows)
    {
        Gate.Apply(pass.Gemm, x, saved.Gate, rows);
        Up.Apply(pass.Gemm, x, saved.Up, rows);
    }

    /// <summary>
    /// The activation, elementwise per row: one launch may cover the rows of several FFNs of this kind
    /// and width (the MoE layer activates every expert's rows at once).
    /// </summary>
    public void Activate(in ForwardPass pass, FfnActivations saved, int rows)
    {
        if (Kind == FfnKind.OpenMoEGated)
            pass.Device.Ops.OpenMoeGatedActivation(saved.Gate, saved.Up, saved.Act, rows, Width);
        else
            pass.Device.Ops.SwiGlu(saved.Gate, saved.Up, saved.Act, rows * Width);
    }

    /// <summary>The forward's last part: y (+)= saved.Act·Wdown.</summary>
    public void ProjectOut(in ForwardPass pass, FfnActivations saved, ArrayView<float> y, int rows, bool accumulate) =>
        Down.Apply(pass.Gemm, saved.Act, y, rows, accumulate);

    /// <summary>
    /// Weight gradients into <paramref name="gradient"/> (this FFN bound to the gradient buffers, +=)
    /// and dx [rows, D] (=, or += with <paramref name="accumulateDx"/>) from dy [rows, D], at the input
    /// x and the activations <paramref name="saved"/> of the forward. Scratch is sized for
    /// <paramref name="scratchRows"/> (>= rows; the most rows any call of the step has) so it never regrows.
    /// </summary>
    public void Backward(in ForwardPass pass, FeedForward gradient, ArrayView<float> x, FfnActivations saved, ArrayView<float> dy, ArrayView<float> dx,
        int rows, int scratchRows, bool accumulateDx)
    {
        if (rows == 0)
            return;
        var scratch = FfnGradients.Allocate(pass, this, scratchRows).Slice(this, 0, rows);
        BackwardOut(pass, gradient, saved, dy, scratch, rows);
        ActivateBackward(pass, saved, scratch, rows);
        BackwardIn(pass, gradient, x, scratch, dx, rows, accumulateDx);
    }

    /// <summary>The backward's first part: gradient.Down += and scratch.Act = d loss / d act, from dy.</summary>
    public void BackwardOut(in ForwardPass pass, FeedForward gradient, FfnActivations saved, ArrayView<float> dy, FfnGradients scratch, int rows) =>
        Down.Backward(pass.Gemm, gradient.Down, saved.Act, dy, scratch.Act, rows);

    /// <summary>The activation's backward, elementwise per row (like <see cref="Activate"/>, one launch may cover several FFNs).</summary>
    public void ActivateBackward(in ForwardPass pass, FfnActivations saved, FfnGradients scratch, int rows)
    {
        if (Kind == FfnKind.OpenMoEGated)
            pass.Device.Backward.OpenMoeGated(saved.Gate, saved.Up, scratch.Act, scratch.Gate, scratch.Up, rows, Width);
        else
            pass.Device.Backward.SwiGlu(saved.Gate, saved.Up, scratch.Act, scratch.Gate, scratch.Up, rows * Width);
    }

    /// <summary>The backward's last part: gradient.Gate, gradient.Up += and dx (+)= from scratch.Gate and scratch.Up at the input x.</summary>
    public void BackwardIn(in ForwardPass pass, FeedForward gradient, ArrayView<float> x, FfnGradients scratch, ArrayView<float> dx, int rows, bool accumulateDx)
    {
        Gate.Backward(pass.Gemm, gradient.Gate, x, scratch.Gate, dx, rows, accumulateDx);
        Up.Backward(pass.Gemm, gradient.Up, x, scratch.Up, dx, rows, accumulateDx: true);
    }

    /// <summary>
    /// The FFN of <paramref name="layer"/> whose (gate, up, down) tensors are Hugging Face linears;
    /// its width is read from the up projection's shape [width, D] in the parameter table.
    /// </summary>
    public static FeedForward Linear(DeviceWeights weights, ModelConfig config, int layer,
        ParameterRole gate, ParameterRole up, ParameterRole down, int expert = -1)
    {
        int d = config.Hidden;
        int width = checked((int)weights.Parameters.Get(layer, up, expert).Shape[0]);
        int gateWidth = GateWidth(config.FfnKind, width);
        return new FeedForward(config.FfnKind, width,
            Projection.Linear(weights.Get(layer, gate, expert), d, gateWidth),
            Projection.Linear(weights.Get(layer, up, expert), d, width),
            Projection.Linear(weights.Get(layer, down, expert), width, d));
    }

    /// <summary>
    /// Expert <paramref name="expert"/> of OpenMoE's stacked tensors wi_gate [E, D, 2F], wi_up [E, D, F], wo [E, F, D]
    /// (the weights hold the slices of their expert shard only, first expert at slice 0).
    /// </summary>
    public static FeedForward StackedExpert(DeviceWeights weights, ModelConfig config, int layer, int expert)
    {
        int d = config.Hidden;
        int width = config.ExpertFfn;
        expert -= weights.Experts.First;
        return new FeedForward(config.FfnKind, width,
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertGate), expert, d, GateWidth(config.FfnKind, width)),
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertUp), expert, d, width),
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertDown), expert, width, d));
    }

    private static int GateWidth(FfnKind kind, int width) => kind == FfnKind.OpenMoEGated ? 2 * width : width;
}

/// <summary>
/// One FFN call's activations. // gate [rows, 2F or F], up [rows, F], act [rows, F]
/// When the pass keeps nothing, act is up (the activation runs in place), as inference needs no copy.
/// </summary>
internal readonly record struct FfnActivations(ArrayView<float> Gate, ArrayView<float> Up, ArrayView<float> Act)
{
    public static FfnActivations Allocate(in ForwardPass pass, FfnNames names, FeedForward ffn, int rows)
    {
        var ws = pass.Workspace;
        var up = ws.Get<float>(names.Up, (long)rows * ffn.Width);
        return new(ws.Get<float>(names.Gate, (long)rows * ffn.Gate.Out), up,
            pass.KeepActivations ? ws.Get<float>(names.Act, (long)rows * ffn.Width) : up);
    }

    /// <summary>Rows [first, first + rows) of activations allocated for more rows.</summary>
    public FfnActivations Slice(FeedForward ffn, int first, int rows) => new(
        Gate.SubView((long)first * ffn.Gate.Out, (long)rows * ffn.Gate.Out),
        Up.SubView((long)first * ffn.Width, (long)rows * ffn.Width),
        Act.SubView((long)first * ffn.Width, (long)rows * ffn.Width));
}

/// <summary>
/// Backward scratch of FFN calls: d loss / d (gate, up, act), shared by every FFN of the step.
/// // gate [rows, 2F or F], up [rows, F], act [rows, F]
/// </summary>
internal readonly record struct FfnGradients(ArrayView<float> Gate, ArrayView<float> Up, ArrayView<float> Act)
{
    public static FfnGradients Allocate(in ForwardPass pass, FeedForward ffn, int rows)
    {
        var ws = pass.Workspace;
        return new(ws.Get<float>("bw.ffn.dgate", (long)rows * ffn.Gate.Out), ws.Get<float>("bw.ffn.dup", (long)rows * ffn.Width),
            ws.Get<float>("bw.ffn.dact", (long)rows * ffn.Width));
    }

    /// <summary>Rows [first, first + rows).</summary>
    public FfnGradients Slice(FeedForward ffn, int first, int rows) => new(
        Gate.SubView((long)first * ffn.Gate.Out, (long)rows * ffn.Gate.Out),
        Up.SubView((long)first * ffn.Width, (long)rows * ffn.Width),
        Act.SubView((long)first * ffn.Width, (long)rows * ffn.Width));
}
