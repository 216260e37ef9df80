using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// One feed-forward block (dense, extra, shared or one expert), DESIGN §2.1:
/// OpenMoE gated: <c>g = x·Wg</c> of width 2F, <c>h = g[:F] * silu(g[F:]) * (x·Wup)</c>, <c>out = h·Wdown</c>;
/// SwiGLU: <c>h = silu(x·Wgate) * (x·Wup)</c>, <c>out = h·Wdown</c>.
/// </summary>
public readonly record struct FeedForward(FfnKind Kind, int Width, Projection Gate, Projection Up, Projection Down)
{
    /// <summary>
    /// y [rows, D] = FFN(x [rows, D]), or y += FFN(x) with <paramref name="accumulate"/>.
    /// Scratch comes from <paramref name="workspace"/> under <paramref name="scratchName"/>.
    /// </summary>
    public void Apply(ComputeDevice device, IGemmProvider gemm, Workspace workspace, ArrayView<float> x, ArrayView<float> y,
        int rows, bool accumulate = false, string scratchName = "ffn")
    {
        if (rows == 0)
            return;
        var gate = workspace.Get<float>(scratchName + ".gate", (long)rows * Gate.Out);
        var up = workspace.Get<float>(scratchName + ".up", (long)rows * Width);
        Gate.Apply(gemm, x, gate, rows);
        Up.Apply(gemm, x, up, rows);
        if (Kind == FfnKind.OpenMoEGated)
            device.Ops.OpenMoeGatedActivation(gate, up, up, rows, Width);
        else
            device.Ops.SwiGlu(gate, up, up, rows * Width);
        Down.Apply(gemm, up, y, rows, accumulate);
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

    /// <summary>Expert <paramref name="expert"/> of OpenMoE's stacked tensors wi_gate [E, D, 2F], wi_up [E, D, F], wo [E, F, D].</summary>
    public static FeedForward StackedExpert(DeviceWeights weights, ModelConfig config, int layer, int expert)
    {
        int d = config.Hidden;
        int width = config.ExpertFfn;
        return new FeedForward(config.FfnKind, width,
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertGate), expert, d, GateWidth(config.FfnKind, width)),
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertUp), expert, d, width),
            Projection.StackedSlice(weights.Get(layer, ParameterRole.ExpertDown), expert, width, d));
    }

    private static int GateWidth(FfnKind kind, int width) => kind == FfnKind.OpenMoEGated ? 2 * width : width;
}
