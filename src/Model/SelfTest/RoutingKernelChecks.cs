using OpenMoE.Runtime.SelfTest;
using ILGPU.Runtime;
using OpenMoE.Kernels.Routing;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.SelfTest;

/// <summary>
/// Selftest checks of the routing kernels: the device router against the plain-C# reference
/// router for every capacity rule and routing rule (assignments must be identical), replayed choices
/// against the router's own weights, and the router-loss kernels against <see cref="RouterLosses"/>.
/// Uses odd token counts (1, 7, 129) and E = 8, K = 2.
/// </summary>
public static class RoutingKernelChecks
{
    /// <summary>The routing checks.</summary>
    public static IReadOnlyList<KernelCheck> All { get; } =
    [
        new("routing (top-k, capacity, dispatch list)", Tolerance.Exact,
            [typeof(RouterSoftmaxTopKKernel), typeof(RoutingVisitOrderKernel), typeof(ExpertSlotKernels), typeof(DispatchListKernels), typeof(ProbabilityDropKernels)],
            CheckAssignments),
        new("routing replay weights", Tolerance.Exact, [typeof(RoutingReplayKernel)], CheckReplayWeights),
        new("router softmax", new Tolerance(1e-6, 1e-5), [typeof(RouterSoftmaxTopKKernel)], CheckProbabilities),
        new("router losses + gradient", new Tolerance(1e-6, 1e-5), [typeof(RouterLossKernels)], CheckLosses),
    ];

    private const int Experts = 8, TopK = 2;

    private static RoutingOptions Options(CapacityRule rule) => new()
    {
        Experts = Experts, TopK = TopK, CapacityRule = rule, CapacityFactor = 1.0, MinCapacity = 1,
    };

    /// <summary>One options set per routing rule of issue 16, next to the plain token choice of each capacity rule.</summary>
    public static IEnumerable<(string Label, RoutingOptions Options)> Rules()
    {
        foreach (var rule in new[] { CapacityRule.T5x, CapacityRule.Cai, CapacityRule.Dropless })
            yield return (rule.ToString(), Options(rule));
        var plain = Options(CapacityRule.T5x);
        yield return ("by probability", plain with { DropPolicy = DropPolicy.ByProbability });
        yield return ("expert choice", plain with { Rule = RoutingRule.ExpertChoice, TopK = Experts });
        yield return ("sigmoid + bias + groups", plain with
        {
            Scoring = RouterScoring.Sigmoid, Gating = Gating.RenormalizedTopK, ExpertBias = true, ExpertGroups = 4, TopGroups = 2,
        });
    }

    private static void CheckAssignments(KernelCheckContext c)
    {
        var router = new DeviceRouter(c.Device);
        foreach (int n in new[] { 1, 7, 129 })
        {
            foreach (var (name, options) in Rules())
            {
                var logits = c.RandomFloats((long)n * Experts, 3);
                // Multiples of 1/8: bias ties and clear margins, as a trained bias would be after a few steps.
                var bias = Array.ConvertAll(c.RandomFloats(Experts, 3), b => MathF.Round(b * 8) / 64);
                var expected = ReferenceRouter.Route(logits, n, options, bias);
                var actual = router.Route(logits, n, options, bias);
                string label = $"n={n} {name}";
                c.Compare(label + " experts", ToFloats(actual.Expert), ToFloats(expected.Expert));
                c.Compare(label + " slots", ToFloats(actual.Slot), ToFloats(expected.Slot));
                c.Compare(label + " dispatch list", ToFloats(actual.DispatchOrder), ToFloats(expected.DispatchOrder));
            }
        }
    }

    private static void CheckReplayWeights(KernelCheckContext c)
    {
        var router = new DeviceRouter(c.Device);
        foreach (var gating in new[] { Gating.RawSoftmax, Gating.RenormalizedTopK })
        {
            const int n = 129;
            var options = Options(CapacityRule.T5x) with { Gating = gating };
            using var topK = router.ChooseTopK(c.Upload(c.RandomFloats((long)n * Experts, 3)), n, options, default);
            var weights = topK.Weights.GetAsArray1D();
            topK.Weights.MemSetToZero();
            router.ReplayWeights(options, topK);
            c.Compare($"{gating} replayed weights", topK.Weights.GetAsArray1D(), weights);
        }
    }

    private static void CheckProbabilities(KernelCheckContext c)
    {
        var router = new DeviceRouter(c.Device);
        foreach (int n in new[] { 1, 7, 129 })
        {
            foreach (var gating in new[] { Gating.RawSoftmax, Gating.RenormalizedTopK })
            {
                var logits = c.RandomFloats((long)n * Experts, 3);
                var expected = RouterProbabilities.Choose(logits, n, Experts, TopK, gating);
                using var topK = router.ChooseTopK(c.Upload(logits), n, Experts, TopK, gating);
                c.Compare($"n={n} {gating} probabilities", topK.Probabilities.GetAsArray1D(), expected.Probabilities);
                c.Compare($"n={n} {gating} weights", topK.Weights.GetAsArray1D(), expected.Weights);
            }
        }
    }

    private static void CheckLosses(KernelCheckContext c)
    {
        var router = new DeviceRouter(c.Device);
        foreach (int n in new[] { 1, 7, 129 })
        {
            var logits = c.RandomFloats((long)n * Experts, 3);
            var options = Options(CapacityRule.T5x);
            var choices = RouterProbabilities.Choose(logits, n, Experts, TopK, Gating.RawSoftmax);
            var expectedGrad = new float[logits.Length];
            double lb = RouterLosses.LoadBalancing(logits, choices.Choices, n, Experts, TopK, n, expectedGrad);
            double z = RouterLosses.ZLoss(logits, n, Experts, expectedGrad);

            var deviceLogits = c.Upload(logits);
            var gradient = c.Zeros<float>(logits.Length);
            using var topK = router.ChooseTopK(deviceLogits, n, Experts, TopK, Gating.RawSoftmax);
            var (deviceLb, deviceZ) = router.Losses(deviceLogits, topK, options, gradient, 1.0, 1.0);
            c.Compare($"n={n} losses", [(float)deviceLb, (float)deviceZ], [(float)lb, (float)z]);
            c.Compare($"n={n} gradient", c.Download(gradient), expectedGrad);
        }
    }

    private static float[] ToFloats(int[] values) => Array.ConvertAll(values, v => (float)v);
}
