using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network.Backward;

/// <summary>
/// Activations of one FFN call kept for its backward. // gate [rows, 2F or F], up [rows, F], act [rows, F]
/// </summary>
internal readonly record struct FfnActivations(ArrayView<float> Gate, ArrayView<float> Up, ArrayView<float> Act)
{
    public static FfnActivations Allocate(Workspace workspace, FfnNames names, FeedForward ffn, int rows) => new(
        workspace.Get<float>(names.Gate, (long)rows * ffn.Gate.Out),
        workspace.Get<float>(names.Up, (long)rows * ffn.Width),
        workspace.Get<float>(names.Act, (long)rows * ffn.Width));

    /// <summary>Rows [first, first + rows) of activations allocated for more rows.</summary>
    public FfnActivations Slice(FeedForward ffn, int first, int rows) => new(
        Gate.SubView((long)first * ffn.Gate.Out, (long)rows * ffn.Gate.Out),
        Up.SubView((long)first * ffn.Width, (long)rows * ffn.Width),
        Act.SubView((long)first * ffn.Width, (long)rows * ffn.Width));
}

/// <summary>The FFN forward that keeps its activations, and its backward (same math as <see cref="FeedForward.Apply"/>).</summary>
internal static class FfnPass
{
    /// <summary>y [rows, D] (+)= FFN(x [rows, D]), filling <paramref name="saved"/>.</summary>
    public static void Forward(ComputeDevice device, IGemmProvider gemm, FeedForward ffn, ArrayView<float> x, FfnActivations saved,
        ArrayView<float> y, int rows, bool accumulate)
    {
        if (rows == 0)
            return;
        ffn.Gate.Apply(gemm, x, saved.Gate, rows);
        ffn.Up.Apply(gemm, x, saved.Up, rows);
        if (ffn.Kind == FfnKind.OpenMoEGated)
            device.Ops.OpenMoeGatedActivation(saved.Gate, saved.Up, saved.Act, rows, ffn.Width);
        else
            device.Ops.SwiGlu(saved.Gate, saved.Up, saved.Act, rows * ffn.Width);
        ffn.Down.Apply(gemm, saved.Act, y, rows, accumulate);
    }

    /// <summary>
    /// Weight gradients into <paramref name="gradient"/> (+=) and dx [rows, D] (=, or += with
    /// <paramref name="accumulateDx"/>) from dy [rows, D]. Scratch from <paramref name="workspace"/>, sized for
    /// <paramref name="scratchRows"/> (>= rows; the most rows any call of the step has) so it never regrows.
    /// </summary>
    public static void Backward(ComputeDevice device, BackwardKernels kernels, IGemmProvider gemm, Workspace workspace,
        FeedForward ffn, FeedForward gradient, ArrayView<float> x, FfnActivations saved, ArrayView<float> dy, ArrayView<float> dx,
        int rows, int scratchRows, bool accumulateDx)
    {
        if (rows == 0)
            return;
        var dAct = workspace.Get<float>("bw.ffn.dact", (long)scratchRows * ffn.Width).SubView(0, (long)rows * ffn.Width);
        var dGate = workspace.Get<float>("bw.ffn.dgate", (long)scratchRows * ffn.Gate.Out).SubView(0, (long)rows * ffn.Gate.Out);
        var dUp = workspace.Get<float>("bw.ffn.dup", (long)scratchRows * ffn.Width).SubView(0, (long)rows * ffn.Width);
        ffn.Down.Backward(gemm, gradient.Down, saved.Act, dy, dAct, rows);
        if (ffn.Kind == FfnKind.OpenMoEGated)
            kernels.OpenMoeGated(saved.Gate, saved.Up, dAct, dGate, dUp, rows, ffn.Width);
        else
            kernels.SwiGlu(saved.Gate, saved.Up, dAct, dGate, dUp, rows * ffn.Width);
        ffn.Gate.Backward(gemm, gradient.Gate, x, dGate, dx, rows, accumulateDx);
        ffn.Up.Backward(gemm, gradient.Up, x, dUp, dx, rows, accumulateDx: true);
    }
}
