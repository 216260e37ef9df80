using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Routing;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Typed launchers for the routing kernels (src/Kernels/Routing) on one device, through the
/// device's one <see cref="KernelCache"/> and <see cref="LaunchShapes"/>. The kernels are
/// grid-stride loops whose results do not depend on the launch shape. Buffers, their shapes and the
/// order of the steps belong to the model's <c>DeviceRouter</c>, which checks the shapes; these only launch.
/// Shapes: N tokens, E experts, K top-k, G routing groups of S tokens, C capacity.
/// </summary>
public sealed class RoutingOps : OpLaunchers
{
    internal RoutingOps(Accelerator accelerator, KernelCache cache, LaunchShapes shapes)
        : base(accelerator, cache, shapes)
    {
    }

    /// <summary>logits [N, E], bias [E] -> probabilities (scores) [N, E], choices [N, K], choiceProbabilities [N, K], weights [N, K].</summary>
    public void SoftmaxTopK(ArrayView<float> logits, ArrayView<float> bias, ArrayView<float> probabilities, ArrayView<int> choices,
        ArrayView<float> choiceProbabilities, ArrayView<float> weights, int n, RouterRule rule) =>
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, RouterRule>(RouterSoftmaxTopKKernel.Kernel)
            (Stream, Shapes.Elements(n), logits, bias, probabilities, choices, choiceProbabilities, weights, n, rule);

    /// <summary>Replay: choiceProbabilities and weights [N, K] of forced choices [N, K] from this forward's scores [N, E].</summary>
    public void ReplayWeights(ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> choiceProbabilities, ArrayView<float> weights,
        int n, int e, int k, bool renormalize) =>
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int>(RoutingReplayKernel.Kernel)
            (Stream, Shapes.Elements(n), probabilities, choices, choiceProbabilities, weights, n, e, k, renormalize ? 1 : 0);

    /// <summary>slots [N, K] by rank of score within each (expert, group) run of the full dispatch list; -1 past C.</summary>
    public void RankSlots(ArrayView<int> choices, ArrayView<float> keys, ArrayView<int> rows, ArrayView<int> list, ArrayView<int> offsets, ArrayView<int> slots,
        int assignments, int k, int groupSize, int capacity) =>
        Cache.Get<ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int>(ProbabilityDropKernels.RankKernel)
            (Stream, Shapes.Elements(assignments), choices, keys, rows, list, offsets, slots, assignments, k, groupSize, capacity);

    /// <summary>kept [G, E] = min(demand, C).</summary>
    public void ClampKept(ArrayView<int> demand, ArrayView<int> kept, int count, int capacity) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, int, int>(ProbabilityDropKernels.ClampKeptKernel)
            (Stream, Shapes.Elements(count), demand, kept, count, capacity);

    /// <summary>order [N]: the priority order of tokens within each group (by position, or by top-1 probability).</summary>
    public void VisitOrder(ArrayView<float> choiceProbabilities, ArrayView<int> order, int n, int k, int groupSize, bool batchPrioritized) =>
        Cache.Get<ArrayView<float>, ArrayView<int>, int, int, int, int>(RoutingVisitOrderKernel.Kernel)
            (Stream, Shapes.Elements(n), choiceProbabilities, order, n, k, groupSize, batchPrioritized ? 1 : 0);

    /// <summary>counts [G, chunks, E]: assignments per expert in each chunk of the priority order.</summary>
    public void CountSlots(ArrayView<int> choices, ArrayView<int> order, ArrayView<int> counts, int groups, int groupSize, int k, int e, int chunk, int chunksPerGroup) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int, int>(ExpertSlotKernels.CountKernel)
            (Stream, Shapes.Elements((long)groups * chunksPerGroup), choices, order, counts, groups, groupSize, k, e, chunk);

    /// <summary>
    /// Exclusive scan of counts per (group, expert); demand and kept [G, E] (kept = min(demand, C)); and
    /// dispatchOffsets [E*G + 1] of the kept counts, as <see cref="DispatchOffsets"/> writes them. One group.
    /// </summary>
    public void ScanSlots(ArrayView<int> counts, ArrayView<int> demand, ArrayView<int> kept, ArrayView<int> dispatchOffsets,
        int groups, int chunksPerGroup, int e, int capacity) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int>(ExpertSlotKernels.ScanKernel)
            (Stream, Shapes.SingleGroup(), counts, demand, kept, dispatchOffsets, groups, chunksPerGroup, e, capacity);

    /// <summary>
    /// slots [N, K]: each assignment's slot in its expert, or -1 when the expert is full; rows [N, K] and
    /// dispatchOrder [N*K] as <see cref="FillDispatch"/> writes them, from dispatchOffsets [E*G + 1] of the kept counts.
    /// </summary>
    public void AssignSlots(ArrayView<int> choices, ArrayView<int> order, ArrayView<int> counts, ArrayView<int> dispatchOffsets,
        ArrayView<int> slots, ArrayView<int> rows, ArrayView<int> dispatchOrder, SlotShape shape) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, SlotShape>(ExpertSlotKernels.AssignKernel)
            (Stream, Shapes.Elements((long)shape.Groups * ExpertSlotKernels.ChunksPerGroup(shape.TokensPerGroup, shape.TopK, shape.Chunk)),
                choices, order, counts, dispatchOffsets, slots, rows, dispatchOrder, shape);

    /// <summary>offsets [E*G + 1]: first dispatch row of each (expert, group), a sequential pass in one thread.</summary>
    public void DispatchOffsets(ArrayView<int> kept, ArrayView<int> offsets, int groups, int e) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, int, int>(DispatchListKernels.OffsetsKernel)
            (Stream, Shapes.SingleGroup(), kept, offsets, groups, e);

    /// <summary>rows [N, K] (dispatch row or -1) and dispatchOrder [N*K] (assignment of each row).</summary>
    public void FillDispatch(ArrayView<int> choices, ArrayView<int> slots, ArrayView<int> offsets, ArrayView<int> rows, ArrayView<int> dispatchOrder,
        int assignments, int k, int groupSize, int groups) =>
        Cache.Get<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int>(DispatchListKernels.FillKernel)
            (Stream, Shapes.Elements(assignments), choices, slots, offsets, rows, dispatchOrder, assignments, k, groupSize, groups);

    /// <summary>fraction and meanProbability [G, E]: the load-balancing loss's two factors per group.</summary>
    public void ExpertLoad(ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> fraction, ArrayView<float> meanProbability,
        int groups, int groupSize, int e, int k) =>
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int>(RouterLossKernels.ExpertLoadKernel)
            (Stream, Shapes.Elements((long)groups * e), probabilities, choices, fraction, meanProbability, groups, groupSize, e, k);

    /// <summary>z [N] (logsumexp per token) and gradLogits [N, E] += the scaled gradients of both router losses.</summary>
    public void LossGradient(ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<float> fraction, ArrayView<float> z,
        ArrayView<float> gradLogits, int n, int e, int groupSize, float loadBalancingScale, float zLossScale) =>
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float>(RouterLossKernels.GradientKernel)
            (Stream, Shapes.Elements(n), logits, probabilities, fraction, z, gradLogits, n, e, groupSize, loadBalancingScale, zLossScale);
}
