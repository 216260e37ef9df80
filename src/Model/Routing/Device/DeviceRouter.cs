using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Routing;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Kernels;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Routing on a device: owns the order of the steps and their buffers, launching the kernels
/// through the device's <see cref="RoutingOps"/>. Produces the same assignments as <see cref="ReferenceRouter"/>, bit for bit, given the
/// same top-k choices; the softmax matches within the "router softmax" check's tolerance (selftest catalog).
/// Each step comes in two forms: one that allocates its result (inference, tests, analysis) and
/// one that fills buffers made once by <c>Create...</c> (training, where every MoE layer routes on
/// every step and a steady step must allocate nothing).
/// </summary>
public sealed class DeviceRouter
{
    /// <summary>Priority positions per chunk of the capacity pass; any value gives the same result.</summary>
    public const int DefaultChunk = 64;

    private readonly ComputeDevice _device;
    private readonly Dictionary<int, MemoryBuffer1D<float, Stride1D.Dense>> _zeroBias = [];

    /// <summary>Routes on <paramref name="device"/>: its routing launchers, its buffers (counted).</summary>
    public DeviceRouter(ComputeDevice device) => _device = device;

    private RoutingOps Ops => _device.Routing;

    /// <summary>Softmax and top-k of router logits already on the device, into new buffers (OpenMoE's plain token choice). // logits [N, E]</summary>
    public DeviceTopK ChooseTopK(ArrayView<float> logits, int tokens, int experts, int topK, Gating gating) =>
        ChooseTopK(logits, tokens, PlainTokenChoice(experts, topK, gating), default);

    /// <summary>
    /// Scores and choices of every rule in <paramref name="options"/> (definitions in <see cref="RouterProbabilities.Choose(ReadOnlySpan{float}, int, RoutingOptions, ReadOnlySpan{float})"/>),
    /// into new buffers. // logits [N, E], bias [E] (read only with <see cref="RoutingOptions.ExpertBias"/>; may be empty then)
    /// </summary>
    public DeviceTopK ChooseTopK(ArrayView<float> logits, int tokens, RoutingOptions options, ArrayView<float> bias)
    {
        var result = CreateTopK(tokens, options.Experts, options.TopK);
        try
        {
            ChooseTopK(logits, options, bias, result);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Buffers for <see cref="ChooseTopK(ArrayView{float}, RoutingOptions, ArrayView{float}, DeviceTopK)"/> with N tokens, E experts, top-K.</summary>
    public DeviceTopK CreateTopK(int tokens, int experts, int topK)
    {
        if (tokens < 1 || topK < 1 || topK > experts)
            throw new ArgumentException($"Top-k needs N >= 1 tokens and 1 <= K={topK} <= E={experts}; got N = {tokens}.");
        return new DeviceTopK
        {
            Tokens = tokens,
            Probabilities = Allocate<float>((long)tokens * experts, "router probabilities [N, E]"),
            Choices = Allocate<int>((long)tokens * topK, "router choices [N, K]"),
            ChoiceProbabilities = Allocate<float>((long)tokens * topK, "router choice probabilities [N, K]"),
            Weights = Allocate<float>((long)tokens * topK, "router weights [N, K]"),
        };
    }

    /// <summary>Softmax and top-k into <paramref name="result"/> (allocates nothing). // logits [N, E]</summary>
    public void ChooseTopK(ArrayView<float> logits, int experts, Gating gating, DeviceTopK result) =>
        ChooseTopK(logits, PlainTokenChoice(experts, (int)(result.Choices.Length / result.Tokens), gating), default, result);

    /// <summary>Scores and choices into <paramref name="result"/> (allocates nothing after the first call per E). // logits [N, E], bias [E]</summary>
    public void ChooseTopK(ArrayView<float> logits, RoutingOptions options, ArrayView<float> bias, DeviceTopK result)
    {
        int tokens = result.Tokens, experts = options.Experts;
        int topK = (int)(result.Choices.Length / tokens);
        if (logits.Length != (long)tokens * experts || result.Probabilities.Length != logits.Length || topK != options.TopK)
            throw new ArgumentException($"Router logits hold {logits.Length} values, expected N*E = {tokens}*{experts} with K = {options.TopK} (the top-k buffers' shape).");
        if (options.ExpertBias && bias.Length != experts)
            throw new ArgumentException($"The expert bias holds {bias.Length} values, expected E = {experts}.");
        var rule = new RouterRule
        {
            Experts = experts, TopK = topK, Renormalize = options.Gating == Gating.RenormalizedTopK ? 1 : 0,
            Sigmoid = options.Scoring == RouterScoring.Sigmoid ? 1 : 0, Groups = options.ExpertGroups, TopGroups = options.TopGroups,
            ExpertChoice = options.Rule == RoutingRule.ExpertChoice ? 1 : 0, UseBias = options.ExpertBias ? 1 : 0,
        };
        Ops.SoftmaxTopK(logits, options.ExpertBias ? bias : ZeroBias(experts), result.Probabilities.View, result.Choices.View,
            result.ChoiceProbabilities.View, result.Weights.View, tokens, rule);
    }

    /// <summary>
    /// Replay: <paramref name="result"/>'s choices were overwritten by forced ones; recompute their
    /// scores and weights from this forward's scores (bit-equal to <see cref="ChooseTopK(ArrayView{float}, RoutingOptions, ArrayView{float}, DeviceTopK)"/> for the same choices).
    /// </summary>
    public void ReplayWeights(RoutingOptions options, DeviceTopK result) =>
        Ops.ReplayWeights(result.Probabilities.View, result.Choices.View, result.ChoiceProbabilities.View, result.Weights.View,
            result.Tokens, options.Experts, options.TopK, options.Gating == Gating.RenormalizedTopK);

    private static RoutingOptions PlainTokenChoice(int experts, int topK, Gating gating) => new()
    {
        Experts = experts, TopK = topK, Gating = gating, CapacityRule = CapacityRule.Dropless, CapacityFactor = 1, MinCapacity = 0,
    };

    // The kernel reads no bias without ExpertBias, but every launch needs a real view; one zero buffer per E.
    private ArrayView<float> ZeroBias(int experts)
    {
        if (!_zeroBias.TryGetValue(experts, out var buffer))
        {
            buffer = Allocate<float>(experts, "zero expert bias [E]");
            buffer.MemSetToZero();
            _zeroBias[experts] = buffer;
        }
        return buffer.View;
    }

    /// <summary>
    /// Capacity assignment and dispatch list for top-k choices on the device, into new buffers.
    /// // choices [N, K], choiceProbabilities [N, K] (rank 0 orders batch-prioritised routing)
    /// </summary>
    public DeviceRouting Assign(ArrayView<int> choices, ArrayView<float> choiceProbabilities, int tokens, RoutingOptions options, int chunk = DefaultChunk)
    {
        var result = CreateRouting(tokens, options, chunk);
        try
        {
            Assign(choices, choiceProbabilities, options, result);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// Buffers for <see cref="Assign(ArrayView{int}, ArrayView{float}, RoutingOptions, DeviceRouting)"/>: N tokens
    /// routed with <paramref name="options"/>' experts, top-k and group size (the capacity factor may change between calls).
    /// </summary>
    public DeviceRouting CreateRouting(int tokens, RoutingOptions options, int chunk = DefaultChunk)
    {
        options.Validated();
        if (chunk < 1)
            throw new ArgumentException($"The chunk must be positive (got {chunk}).");
        int k = options.TopK, e = options.Experts;
        int groupSize = options.TokensPerGroup(tokens);
        int groups = tokens / groupSize;
        return new DeviceRouting
        {
            Options = options,
            Tokens = tokens,
            TokensPerGroup = groupSize,
            Capacity = options.CapacityFor(groupSize),
            Chunk = chunk,
            Slot = Allocate<int>((long)tokens * k, "routing slots [N, K]"),
            Demand = Allocate<int>((long)groups * e, "routing demand [G, E]"),
            KeptCount = Allocate<int>((long)groups * e, "routing kept counts [G, E]"),
            ExpertGroupOffsets = Allocate<int>((long)e * groups + 1, "routing offsets [E*G + 1]"),
            DispatchOrder = Allocate<int>((long)tokens * k, "dispatch order [N*K]"),
            Row = Allocate<int>((long)tokens * k, "dispatch rows [N, K]"),
            VisitOrder = Allocate<int>(tokens, "routing visit order [N]"),
            ChunkCounts = Allocate<int>((long)groups * ExpertSlotKernels.ChunksPerGroup(groupSize, k, chunk) * e, "routing chunk counts"),
        };
    }

    /// <summary>
    /// Capacity assignment and dispatch list into <paramref name="result"/> (allocates nothing), made by
    /// <see cref="CreateRouting"/> for the same token count, experts, top-k and group size.
    /// // choices [N, K], choiceProbabilities [N, K] (rank 0 orders batch-prioritised routing)
    /// </summary>
    public void Assign(ArrayView<int> choices, ArrayView<float> choiceProbabilities, RoutingOptions options, DeviceRouting result)
    {
        options.Validated();
        int tokens = result.Tokens, k = options.TopK, e = options.Experts, chunk = result.Chunk;
        if (choices.Length != (long)tokens * k || choiceProbabilities.Length != choices.Length)
            throw new ArgumentException($"Choices and their probabilities must be [N, K] = [{tokens}, {k}].");
        int groupSize = options.TokensPerGroup(tokens);
        int groups = tokens / groupSize;
        int chunksPerGroup = ExpertSlotKernels.ChunksPerGroup(groupSize, k, chunk);
        if (result.Row.Length != choices.Length || result.Demand.Length != (long)groups * e || result.ChunkCounts.Length != (long)groups * chunksPerGroup * e)
            throw new ArgumentException($"The routing buffers were made for another shape than N = {tokens}, K = {k}, E = {e}, {groups} groups.");
        int capacity = options.CapacityFor(groupSize);
        result.Reuse(options, groupSize, capacity);

        var order = result.VisitOrder.View;
        var counts = result.ChunkCounts.View;
        // By probability: first the position passes with unlimited capacity, which list every assignment of
        // each (expert, group) in priority order; then each ranks itself by score in its run.
        int positionCapacity = options.KeepsMostProbable ? int.MaxValue : capacity;
        // The position order (every rule but batch-prioritised routing) depends on the shape only: written once per buffer.
        if (options.BatchPrioritized || !result.HoldsPositionOrder)
            Ops.VisitOrder(choiceProbabilities, order, tokens, k, groupSize, options.BatchPrioritized);
        result.HoldsPositionOrder = !options.BatchPrioritized;
        Ops.CountSlots(choices, order, counts, groups, groupSize, k, e, chunk, chunksPerGroup);
        Ops.ScanSlots(counts, result.Demand.View, result.KeptCount.View, result.ExpertGroupOffsets.View, groups, chunksPerGroup, e, positionCapacity);
        Ops.AssignSlots(choices, order, counts, result.ExpertGroupOffsets.View, result.Slot.View, result.Row.View, result.DispatchOrder.View, new SlotShape
        {
            Groups = groups, TokensPerGroup = groupSize, TopK = k, Experts = e, Chunk = chunk, Capacity = positionCapacity,
        });
        if (options.KeepsMostProbable)
        {
            Ops.RankSlots(choices, choiceProbabilities, result.Row.View, result.DispatchOrder.View, result.ExpertGroupOffsets.View, result.Slot.View,
                tokens * k, k, groupSize, capacity);
            Ops.ClampKept(result.Demand.View, result.KeptCount.View, groups * e, capacity);
            Ops.DispatchOffsets(result.KeptCount.View, result.ExpertGroupOffsets.View, groups, e);
            Ops.FillDispatch(choices, result.Slot.View, result.ExpertGroupOffsets.View, result.Row.View, result.DispatchOrder.View, tokens * k, k, groupSize, groups);
        }
        _device.Synchronize();
    }

    /// <summary>
    /// Replay: offsets and the dispatch list of forced slots, whose demand and kept counts the caller wrote
    /// into <paramref name="result"/> (checked on the host by <c>RoutingDecisions.Counts</c>). // choices [N, K]
    /// </summary>
    public void Dispatch(ArrayView<int> choices, DeviceRouting result)
    {
        int k = result.Options.TopK, groups = result.Tokens / result.TokensPerGroup;
        Ops.DispatchOffsets(result.KeptCount.View, result.ExpertGroupOffsets.View, groups, result.Options.Experts);
        Ops.FillDispatch(choices, result.Slot.View, result.ExpertGroupOffsets.View, result.Row.View, result.DispatchOrder.View,
            result.Tokens * k, k, result.TokensPerGroup, groups);
        _device.Synchronize();
    }

    /// <summary>
    /// One layer's router losses (definitions in <see cref="RouterLosses"/>) and their gradient,
    /// scaled and added into <paramref name="gradLogits"/>: pass the layer's share of each loss weight
    /// (<see cref="RouterLossWeights.LoadBalancingGradientScale"/>). Returns the unweighted losses.
    /// // logits [N, E], topK from <see cref="ChooseTopK(ArrayView{float}, int, int, int, Gating)"/>, gradLogits [N, E] (+=)
    /// </summary>
    public (double LoadBalancing, double ZLoss) Losses(
        ArrayView<float> logits, DeviceTopK topK, RoutingOptions options, ArrayView<float> gradLogits,
        double loadBalancingScale, double zLossScale)
    {
        using var scratch = CreateLossScratch(topK.Tokens, options);
        return Losses(logits, topK, options, gradLogits, loadBalancingScale, zLossScale, scratch);
    }

    /// <summary>Scratch for <see cref="Losses(ArrayView{float}, DeviceTopK, RoutingOptions, ArrayView{float}, double, double, RouterLossScratch)"/> with N tokens.</summary>
    public RouterLossScratch CreateLossScratch(int tokens, RoutingOptions options)
    {
        int groups = tokens / options.TokensPerGroup(tokens);
        long perExpert = (long)groups * options.Experts;
        return new RouterLossScratch(_device.Accelerator,
            Allocate<float>(perExpert, "router load fraction [G, E]"),
            Allocate<float>(perExpert, "router mean probability [G, E]"),
            Allocate<float>(tokens, "router z [N]"));
    }

    /// <summary>As the allocating overload, with scratch from <see cref="CreateLossScratch"/> for the same N and groups (allocates nothing).</summary>
    public (double LoadBalancing, double ZLoss) Losses(
        ArrayView<float> logits, DeviceTopK topK, RoutingOptions options, ArrayView<float> gradLogits,
        double loadBalancingScale, double zLossScale, RouterLossScratch scratch)
    {
        int n = topK.Tokens, e = options.Experts;
        if (logits.Length != (long)n * e || gradLogits.Length != logits.Length)
            throw new ArgumentException($"Logits and their gradient must be [N, E] = [{n}, {e}].");
        int groupSize = options.TokensPerGroup(n);
        int groups = n / groupSize;
        if (scratch.Fraction.Length != (long)groups * e || scratch.Z.Length != n)
            throw new ArgumentException($"The router-loss scratch was made for another shape than N = {n}, E = {e}, {groups} groups.");
        // Rules without a load-balancing loss (expert choice, sigmoid scores) keep the z-loss only.
        bool balance = options.HasLoadBalancingLoss;
        Ops.ExpertLoad(topK.Probabilities.View, topK.Choices.View, scratch.Fraction.View, scratch.MeanProbability.View, groups, groupSize, e, options.TopK);
        Ops.LossGradient(logits, topK.Probabilities.View, scratch.Fraction.View, scratch.Z.View, gradLogits,
            n, e, groupSize, balance ? (float)loadBalancingScale : 0f, (float)zLossScale);
        var (f, p, z) = scratch.Download();
        double load = 0;
        for (int i = 0; i < f.Length; i++)
            load += (double)f[i] * p[i];
        double zSum = 0;
        foreach (float value in z)
            zSum += value;
        return (balance ? e * load / groups : 0, zSum / n);
    }

    /// <summary>
    /// Whole routing of host logits, copied back: for statistics, tests and analysis.
    /// // logits [N, E]
    /// </summary>
    public RoutingResult Route(ReadOnlySpan<float> logits, int tokens, RoutingOptions options, float[]? bias = null)
    {
        options.Validated();
        using var deviceLogits = _device.Upload(logits.ToArray(), "router logits [N, E]");
        using var deviceBias = _device.Upload(bias ?? new float[options.Experts], "expert bias [E]");
        using var topK = ChooseTopK(deviceLogits.View, tokens, options, deviceBias.View);
        using var routing = Assign(topK.Choices.View, topK.ChoiceProbabilities.View, tokens, options);
        return routing.ToHost(topK.Choices.GetAsArray1D(), topK.Weights.GetAsArray1D());
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length, string what) where T : unmanaged => _device.Allocate<T>(length, what);
}
