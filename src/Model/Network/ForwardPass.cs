using OpenMoE.Model.Parallel;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// Everything one forward (and its backward) shares across layers besides their weights: the
/// device, the batch shape, the routing options and what to keep. A value type, so a training
/// step allocates nothing for it.
/// </summary>
/// <param name="Kernels">The launches whose sizes the spec fixes, size-specialised or not (<see cref="SpecKernels"/>).</param>
/// <param name="KeepActivations">
/// Training and intermediate dumps: every layer keeps its activations under its own names
/// (<see cref="LayerNames.ForLayer"/>) for the backward; inference reuses one set of buffers.
/// </param>
/// <param name="StopOnNonFinite">Training: NaN or infinite router logits stop the pass (<see cref="NonFiniteValuesException"/>, reported as divergence).</param>
/// <param name="RouterLosses">Compute the router losses (and, with non-zero scales, their gradient) in the forward.</param>
/// <param name="LoadBalancingScale">Each MoE layer's share of the load-balancing loss weight in the total loss (0 outside training).</param>
/// <param name="ZLossScale">Each MoE layer's share of the router z-loss weight (0 outside training).</param>
/// <param name="RecordRouting">When set, every MoE layer adds its decisions to it.</param>
/// <param name="ReplayRouting">When set, every MoE layer routes as it says (after its fresh routing, to count the changes).</param>
/// <param name="Parallel">When set, the MoE layers hold one expert shard and route with the other ranks (one global routing group).</param>
/// <param name="GroupTokens">With <paramref name="Parallel"/>: every expert-parallel rank's N, in rank order (gathered once per pass). // [P]</param>
/// <param name="Fuse">Run the fused kernels where a layer allows them (<see cref="ForwardOptions.FusedKernels"/>); false runs the unfused sequence they replace.</param>
/// <param name="ExpertScratchBytes">The most bytes of expert activations an inference MoE layer runs through at once (<see cref="MoeLayer.InferenceExpertScratchBytes"/>).</param>
internal readonly record struct ForwardPass(
    ComputeDevice Device, IGemmProvider Gemm, DeviceRouter Router, Workspace Workspace, SpecKernels Kernels,
    int Batch, int Time, KvCache? Cache, RoutingOptions Routing,
    bool KeepActivations, bool CollectTrace, bool StopOnNonFinite, bool RouterLosses, double LoadBalancingScale, double ZLossScale,
    RoutingRecorder? RecordRouting = null, RoutingReplay? ReplayRouting = null, ExpertParallelism? Parallel = null, int[]? GroupTokens = null,
    bool Fuse = true, long ExpertScratchBytes = MoeLayer.InferenceExpertScratchBytes)
{
    /// <summary>Tokens of the routing group: all expert-parallel ranks' (N in one process).</summary>
    public int RoutingTokens => GroupTokens?.Sum() ?? Tokens;

    /// <summary>N = B*T, the rows of every [N, *] activation.</summary>
    public int Tokens => Batch * Time;
}
