using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// One MoE sublayer (DESIGN §2.1, §2.3): fp32 router, softmax over all experts, top-k token choice,
/// capacity assignment with OpenMoE's priority (all first choices before any second choice), each
/// expert's FFN on its contiguous rows, weighted combine; plus DeepSeekMoE's parallel shared experts.
/// OpenMoE's sequential extra FFN is applied by the decoder layer after this block.
/// </summary>
public sealed class MoeBlock
{
    private readonly ModelConfig _config;
    private readonly int _layer;
    private readonly Projection _router;
    private readonly FeedForward[] _experts;
    private readonly FeedForward? _shared;

    /// <summary>Binds layer <paramref name="layer"/>'s router and experts in <paramref name="weights"/>.</summary>
    public MoeBlock(ModelConfig config, DeviceWeights weights, int layer)
    {
        _config = config;
        _layer = layer;
        _router = Projection.Linear(weights.Get(layer, ParameterRole.Router), config.Hidden, config.Experts);
        bool stacked = weights.Parameters.Has(layer, ParameterRole.ExpertGate);
        _experts = Enumerable.Range(0, config.Experts)
            .Select(e => stacked
                ? FeedForward.StackedExpert(weights, config, layer, e)
                : FeedForward.Linear(weights, config, layer, ParameterRole.ExpertGate, ParameterRole.ExpertUp, ParameterRole.ExpertDown, e))
            .ToArray();
        if (config.SharedExpertKind == SharedExpertKind.ParallelShared)
            _shared = FeedForward.Linear(weights, config, layer, ParameterRole.SharedGate, ParameterRole.SharedUp, ParameterRole.SharedDown);
    }

    /// <summary>
    /// residual [N, D] += MoE(h [N, D]). Returns the layer's routing trace when
    /// <paramref name="collectTrace"/> (copies N*(E+3K) numbers to the host), else null.
    /// </summary>
    public MoeLayerTrace? AddTo(ComputeDevice device, IGemmProvider gemm, DeviceRouter router, Workspace workspace,
        ArrayView<float> h, ArrayView<float> residual, int n, RoutingOptions options, bool collectTrace)
    {
        int d = _config.Hidden, e = _config.Experts, k = _config.TopK;
        var logits = workspace.Get<float>("moe.router_logits", (long)n * e);
        _router.Apply(gemm, h, logits, n);

        using var topK = router.ChooseTopK(logits, n, e, k, options.Gating);
        using var routing = router.Assign(topK.Choices.View, topK.ChoiceProbabilities.View, n, options);
        int groups = n / routing.TokensPerGroup;
        var offsets = routing.ExpertGroupOffsets.GetAsArray1D(); // [E*G + 1]
        int kept = offsets[^1];

        var combined = workspace.Get<float>("moe.combined", (long)n * d);
        if (kept > 0)
        {
            var rowTokens = workspace.Get<int>("moe.row_tokens", kept);
            var assignments = ((ArrayView<int>)routing.DispatchOrder.View).SubView(0, kept).Download();
            rowTokens.CopyFromCPU(Array.ConvertAll(assignments, a => a / k));
            var expertIn = workspace.Get<float>("moe.expert_in", (long)kept * d);
            var expertOut = workspace.Get<float>("moe.expert_out", (long)kept * d);
            device.Ops.MoeDispatch(h, rowTokens, expertIn, kept, d);
            for (int x = 0; x < e; x++)
            {
                int first = offsets[x * groups], rows = offsets[(x + 1) * groups] - first;
                if (rows > 0)
                    _experts[x].Apply(device, gemm, workspace, expertIn.SubView((long)first * d, (long)rows * d),
                        expertOut.SubView((long)first * d, (long)rows * d), rows, scratchName: "moe.expert");
            }
            device.Ops.MoeCombine(expertOut, routing.Row.View, topK.Weights.View, combined, n, k, d);
        }
        else
        {
            combined.MemSetToZero();
        }
        device.Ops.ResidualAdd(residual, combined, n * d);
        _shared?.Apply(device, gemm, workspace, h, residual, n, accumulate: true, scratchName: "moe.shared");

        if (!collectTrace)
            return null;
        device.Synchronize();
        var choices = topK.ToHost(e, k);
        var hostLogits = logits.Download();
        int groupSize = routing.TokensPerGroup;
        return new MoeLayerTrace(_layer, choices, routing.ToHost(choices.Choices, choices.Weights),
            RouterLosses.LoadBalancing(hostLogits, choices.Choices, n, e, k, groupSize, Span<float>.Empty),
            RouterLosses.ZLoss(hostLogits, n, e, Span<float>.Empty));
    }
}
