using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Routing;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Routing on an ILGPU accelerator: loads the routing kernels once per accelerator and launches
/// them. Produces the same assignments as <see cref="ReferenceRouter"/>, bit for bit, given the
/// same top-k choices; the softmax matches within <see cref="ProbabilityTolerance"/>.
/// </summary>
public sealed class DeviceRouter
{
    /// <summary>Declared tolerance of device vs reference probabilities and weights: |d - r| &lt;= Abs + Rel * |r|.</summary>
    public static readonly (double Abs, double Rel) ProbabilityTolerance = (1e-6, 1e-5);

    /// <summary>Priority positions per chunk of the capacity pass; any value gives the same result.</summary>
    public const int DefaultChunk = 64;

    private readonly Accelerator _accelerator;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int> _softmaxTopK;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, int, int, int, int> _visitOrder;
    private readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int, int> _count;
    private readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int> _scan;
    private readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int, int, int> _assign;
    private readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, int, int> _offsets;
    private readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int> _fill;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int> _expertLoad;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float> _lossGradient;

    /// <summary>Compile the routing kernels for <paramref name="accelerator"/>.</summary>
    public DeviceRouter(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _softmaxTopK = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int>(RouterSoftmaxTopKKernel.Kernel);
        _visitOrder = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, int, int, int, int>(RoutingVisitOrderKernel.Kernel);
        _count = accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int, int>(ExpertSlotKernels.CountKernel);
        _scan = accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int>(ExpertSlotKernels.ScanKernel);
        _assign = accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int, int, int>(ExpertSlotKernels.AssignKernel);
        _offsets = accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<int>, int, int>(DispatchListKernels.OffsetsKernel);
        _fill = accelerator.LoadStreamKernel<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, int>(DispatchListKernels.FillKernel);
        _expertLoad = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int>(RouterLossKernels.ExpertLoadKernel);
        _lossGradient = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, float>(RouterLossKernels.GradientKernel);
    }

    /// <summary>Softmax and top-k of router logits already on the device. // logits [N, E]</summary>
    public DeviceTopK ChooseTopK(ArrayView<float> logits, int tokens, int experts, int topK, Gating gating)
    {
        if (logits.Length != (long)tokens * experts || topK < 1 || topK > experts)
            throw new ArgumentException($"Router logits hold {logits.Length} values, expected N*E = {tokens}*{experts}, with 1 <= K={topK} <= E.");
        var result = new DeviceTopK
        {
            Tokens = tokens,
            Probabilities = _accelerator.Allocate1D<float>((long)tokens * experts),
            Choices = _accelerator.Allocate1D<int>((long)tokens * topK),
            ChoiceProbabilities = _accelerator.Allocate1D<float>((long)tokens * topK),
            Weights = _accelerator.Allocate1D<float>((long)tokens * topK),
        };
        _softmaxTopK(GridStrideLaunch.For(_accelerator, tokens), logits, result.Probabilities.View, result.Choices.View,
            result.ChoiceProbabilities.View, result.Weights.View, tokens, experts, topK, gating == Gating.RenormalizedTopK ? 1 : 0);
        return result;
    }

    /// <summary>
    /// Capacity assignment and dispatch list for top-k choices on the device.
    /// // choices [N, K], choiceProbabilities [N, K] (rank 0 orders batch-prioritised routing)
    /// </summary>
    public DeviceRouting Assign(ArrayView<int> choices, ArrayView<float> choiceProbabilities, int tokens, RoutingOptions options, int chunk = DefaultChunk)
    {
        options.Validated();
        int k = options.TopK, e = options.Experts;
        if (choices.Length != (long)tokens * k || choiceProbabilities.Length != choices.Length || chunk < 1)
            throw new ArgumentException($"Choices and their probabilities must be [N, K] = [{tokens}, {k}]; chunk must be positive.");
        int groupSize = options.TokensPerGroup(tokens);
        int groups = tokens / groupSize;
        int capacity = options.CapacityFor(groupSize);
        int chunksPerGroup = ExpertSlotKernels.ChunksPerGroup(groupSize, k, chunk);

        using var order = _accelerator.Allocate1D<int>(tokens);
        using var counts = _accelerator.Allocate1D<int>((long)groups * chunksPerGroup * e);
        var result = new DeviceRouting
        {
            Options = options,
            Tokens = tokens,
            TokensPerGroup = groupSize,
            Capacity = capacity,
            Slot = _accelerator.Allocate1D<int>((long)tokens * k),
            Demand = _accelerator.Allocate1D<int>((long)groups * e),
            KeptCount = _accelerator.Allocate1D<int>((long)groups * e),
            ExpertGroupOffsets = _accelerator.Allocate1D<int>((long)e * groups + 1),
            DispatchOrder = _accelerator.Allocate1D<int>((long)tokens * k),
            Row = _accelerator.Allocate1D<int>((long)tokens * k),
        };
        _visitOrder(GridStrideLaunch.For(_accelerator, tokens), choiceProbabilities, order.View, tokens, k, groupSize, options.BatchPrioritized ? 1 : 0);
        _count(GridStrideLaunch.For(_accelerator, groups * chunksPerGroup), choices, order.View, counts.View, groups, groupSize, k, e, chunk);
        _scan(GridStrideLaunch.For(_accelerator, groups * e), counts.View, result.Demand.View, result.KeptCount.View, groups, chunksPerGroup, e, capacity);
        _assign(GridStrideLaunch.For(_accelerator, groups * chunksPerGroup), choices, order.View, counts.View, result.Slot.View, groups, groupSize, k, e, chunk, capacity);
        _offsets(GridStrideLaunch.Single, result.KeptCount.View, result.ExpertGroupOffsets.View, groups, e);
        _fill(GridStrideLaunch.For(_accelerator, (long)tokens * k), choices, result.Slot.View, result.ExpertGroupOffsets.View,
            result.Row.View, result.DispatchOrder.View, tokens * k, k, groupSize, groups);
        _accelerator.Synchronize();
        return result;
    }

    /// <summary>
    /// One layer's router losses (definitions in <see cref="RouterLosses"/>) and their gradient,
    /// scaled and added into <paramref name="gradLogits"/>: pass the layer's share of each loss weight
    /// (<see cref="RouterLossWeights.LoadBalancingGradientScale"/>). Returns the unweighted losses.
    /// // logits [N, E], topK from <see cref="ChooseTopK"/>, gradLogits [N, E] (+=)
    /// </summary>
    public (double LoadBalancing, double ZLoss) Losses(
        ArrayView<float> logits, DeviceTopK topK, RoutingOptions options, ArrayView<float> gradLogits,
        double loadBalancingScale, double zLossScale)
    {
        int n = topK.Tokens, e = options.Experts;
        if (logits.Length != (long)n * e || gradLogits.Length != logits.Length)
            throw new ArgumentException($"Logits and their gradient must be [N, E] = [{n}, {e}].");
        int groupSize = options.TokensPerGroup(n);
        int groups = n / groupSize;
        using var fraction = _accelerator.Allocate1D<float>((long)groups * e);
        using var meanProbability = _accelerator.Allocate1D<float>((long)groups * e);
        using var z = _accelerator.Allocate1D<float>(n);
        _expertLoad(GridStrideLaunch.For(_accelerator, groups * e), topK.Probabilities.View, topK.Choices.View,
            fraction.View, meanProbability.View, groups, groupSize, e, options.TopK);
        _lossGradient(GridStrideLaunch.For(_accelerator, n), logits, topK.Probabilities.View, fraction.View, z.View, gradLogits,
            n, e, groupSize, (float)loadBalancingScale, (float)zLossScale);
        _accelerator.Synchronize();
        var f = fraction.GetAsArray1D();
        var p = meanProbability.GetAsArray1D();
        double balance = 0;
        for (int i = 0; i < f.Length; i++)
            balance += (double)f[i] * p[i];
        double zLoss = z.GetAsArray1D().Sum(v => (double)v) / n;
        return (e * balance / groups, zLoss);
    }

    /// <summary>
    /// Whole routing of host logits, copied back: for statistics, tests and analysis.
    /// // logits [N, E]
    /// </summary>
    public RoutingResult Route(ReadOnlySpan<float> logits, int tokens, RoutingOptions options)
    {
        options.Validated();
        using var deviceLogits = _accelerator.Allocate1D(logits.ToArray());
        using var topK = ChooseTopK(deviceLogits.View, tokens, options.Experts, options.TopK, options.Gating);
        using var routing = Assign(topK.Choices.View, topK.ChoiceProbabilities.View, tokens, options);
        return routing.ToHost(topK.Choices.GetAsArray1D(), topK.Weights.GetAsArray1D());
    }
}
