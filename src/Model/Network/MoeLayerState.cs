using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// One MoE layer's routing buffers for one batch shape (N tokens, T positions), made once and
/// overwritten by every forward of that shape: the forward fills them, the backward reads them
/// (routing is held fixed). Owns its device buffers and pinned host copies.
/// </summary>
internal sealed class MoeLayerState : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly PinnedHostArray<int> _offsets, _rows, _rowTokens;
    private readonly PinnedHostArray<float> _logits, _bias;
    private readonly PinnedHostArray<int> _demand;

    public MoeLayerState(ComputeDevice device, DeviceRouter router, int layer, int tokens, int time, RoutingOptions options)
    {
        _device = device;
        var accelerator = device.Accelerator;
        Tokens = tokens;
        Time = time;
        TopK = router.CreateTopK(tokens, options.Experts, options.TopK);
        Routing = router.CreateRouting(tokens, options);
        LossScratch = router.CreateLossScratch(tokens, options);
        Groups = tokens / Routing.TokensPerGroup;
        _offsets = new PinnedHostArray<int>(accelerator, new int[options.Experts * Groups + 1]);
        _rows = new PinnedHostArray<int>(accelerator, new int[tokens * options.TopK]);
        _rowTokens = new PinnedHostArray<int>(accelerator, new int[tokens * options.TopK]);
        _logits = new PinnedHostArray<float>(accelerator, new float[tokens * options.Experts]);
        _bias = new PinnedHostArray<float>(accelerator, new float[options.Experts]);
        _demand = new PinnedHostArray<int>(accelerator, new int[Groups * options.Experts]);
        Bias = device.Allocate<float>(options.Experts, "expert bias [E]");
        Bias.MemSetToZero();
        Step = new MoeLayerStep(layer, options.Experts, time);
    }

    public int Tokens { get; }
    public int Time { get; }
    public DeviceTopK TopK { get; }
    public DeviceRouting Routing { get; }
    public RouterLossScratch LossScratch { get; }
    /// <summary>The layer's expert bias on the device (zeros unless the rule uses it). // [E]</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Bias { get; }
    public int Groups { get; }
    /// <summary>This layer's record of the latest step.</summary>
    public MoeLayerStep Step { get; }
    /// <summary>Expert-group row offsets of the latest routing. // [E*G + 1]</summary>
    public int[] Offsets => _offsets.Array;
    public int Kept => Offsets[^1];

    /// <summary>True when these buffers fit a batch of <paramref name="tokens"/> tokens in sequences of <paramref name="time"/>.</summary>
    public bool Fits(int tokens, int time, RoutingOptions options) =>
        Tokens == tokens && Time == time && Routing.TokensPerGroup == options.TokensPerGroup(tokens)
        && TopK.Choices.Length == (long)tokens * options.TopK && Routing.Options.Experts == options.Experts;

    /// <summary>Copies the layer's host bias to <see cref="Bias"/> (E floats; the trainer moves it between steps).</summary>
    public void UploadBias(float[] bias)
    {
        bias.CopyTo(_bias.Array, 0);
        _bias.CopyTo(Bias.View);
    }

    /// <summary>
    /// Training stops on NaN or infinite router logits rather than route them (the top-k would hand
    /// every such token to the lowest experts). Router logits are small (N*E), so this host check is
    /// cheap, and the MoE forward synchronises soon after anyway.
    /// </summary>
    public void CheckFinite(ArrayView<float> logits)
    {
        _logits.CopyFrom(logits);
        _device.Synchronize();
        foreach (float value in _logits.Array)
        {
            if (!float.IsFinite(value))
                throw new NonFiniteValuesException($"Router logits of layer {Step.Layer} are NaN or infinite.");
        }
    }

    /// <summary>Fills <see cref="Step"/> from the latest routing: the losses, load per expert, drops per position.</summary>
    public void Record(double loadBalancing, double zLoss)
    {
        int k = Routing.Options.TopK, e = Routing.Options.Experts;
        for (int x = 0; x < e; x++) Step.ExpertLoad[x] = ExpertRows(x).Rows;
        _demand.CopyFrom(Routing.Demand.View);
        var rows = DownloadRows();
        Array.Clear(Step.ExpertDemand);
        for (int i = 0; i < _demand.Array.Length; i++)
            Step.ExpertDemand[i % e] += _demand.Array[i];
        var dropped = Step.DroppedByPosition;
        Array.Clear(dropped);
        int droppedTotal = 0, unrouted = 0;
        for (int t = 0; t < Tokens; t++)
        {
            int lost = 0;
            for (int r = 0; r < k; r++)
            {
                if (rows[t * k + r] >= 0) continue;
                dropped[t % Time]++;
                lost++;
            }
            droppedTotal += lost;
            unrouted += lost == k ? 1 : 0;
        }
        Step.LoadBalancing = loadBalancing;
        Step.ZLoss = zLoss;
        Step.DropRatio = (double)droppedTotal / ((long)Tokens * k);
        Step.UnroutedTokens = (double)unrouted / Tokens;
    }

    /// <summary>The latest routing of every token, copied to the host, with the losses <see cref="Record"/> stored.</summary>
    public MoeLayerTrace Trace(int experts, int topK)
    {
        var choices = TopK.ToHost(experts, topK);
        return new MoeLayerTrace(Step.Layer, choices, Routing.ToHost(choices.Choices, choices.Weights), Step.LoadBalancing, Step.ZLoss);
    }

    /// <summary>This layer's decisions of the latest routing, copied to the host (recording).</summary>
    public RoutingDecisions Decisions() =>
        new(Step.Layer, Tokens, Routing.Options.TopK, TopK.Choices.GetAsArray1D(), Routing.Slot.GetAsArray1D());

    /// <summary>
    /// Replaces the latest routing by <paramref name="forced"/>: choices and slots uploaded, weights from
    /// this forward's scores, dispatch list rebuilt. Returns how many decisions differed from the fresh routing.
    /// </summary>
    public int Replay(RoutingDecisions forced, DeviceRouter router, RoutingOptions options)
    {
        var fresh = Decisions();
        var (demand, kept) = forced.Counts(options.Experts, Routing.TokensPerGroup);
        TopK.Choices.View.CopyFromCPU(forced.Choices);
        Routing.Slot.View.CopyFromCPU(forced.Slots);
        Routing.Demand.View.CopyFromCPU(demand);
        Routing.KeptCount.View.CopyFromCPU(kept);
        router.ReplayWeights(options, TopK);
        router.Dispatch(TopK.Choices.View, Routing);
        DownloadOffsets();
        return forced.Differences(fresh.Choices, fresh.Slots);
    }

    /// <summary>Copies the routing's offsets to the host (<see cref="Offsets"/>); call after the assignment.</summary>
    public void DownloadOffsets()
    {
        _offsets.CopyFrom(Routing.ExpertGroupOffsets.View);
        _device.Synchronize();
    }

    /// <summary>
    /// The token of each kept dispatch row (assignment t*K + r belongs to token t), uploaded to
    /// <paramref name="rowTokens"/> [kept].
    /// </summary>
    public void UploadRowTokens(ArrayView<int> rowTokens, int topK)
    {
        int kept = Kept;
        var host = _rowTokens.Array;
        _rowTokens.CopyFrom(((ArrayView<int>)Routing.DispatchOrder.View).SubView(0, kept));
        _device.Synchronize();
        for (int i = 0; i < kept; i++) host[i] /= topK;
        _rowTokens.CopyTo(rowTokens);
    }

    /// <summary>The latest routing's dispatch row per assignment (-1 = dropped), on the host. // [N*K]</summary>
    public int[] DownloadRows()
    {
        _rows.CopyFrom(Routing.Row.View);
        _device.Synchronize();
        return _rows.Array;
    }

    /// <summary>First row and row count of expert <paramref name="expert"/> (all its groups are contiguous).</summary>
    public (int First, int Rows) ExpertRows(int expert)
    {
        int first = Offsets[expert * Groups];
        return (first, Offsets[(expert + 1) * Groups] - first);
    }

    public void Dispose()
    {
        TopK.Dispose();
        Routing.Dispose();
        LossScratch.Dispose();
        _offsets.Dispose();
        _rows.Dispose();
        _rowTokens.Dispose();
        _logits.Dispose();
        _bias.Dispose();
        _demand.Dispose();
        Bias.Dispose();
    }
}
