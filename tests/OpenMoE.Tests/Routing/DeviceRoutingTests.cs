using OpenMoE.Model.SelfTest;
using ILGPU;
using ILGPU.Runtime;
using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The ILGPU routing kernels against the reference, written once per accelerator kind (ILGPU's
/// own test pattern): a concrete subclass supplies the accelerator.
/// </summary>
[Properties(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 100)]
public abstract class DeviceRoutingLaws
{
    private readonly IRoutingDevice _device;

    protected DeviceRoutingLaws(IRoutingDevice device) => _device = device;

    [Property]
    public void Device_assignment_equals_the_reference_bit_for_bit_for_every_rule_and_chunk_size(RoutingCase c, PositiveInt chunk)
    {
        var choices = c.Choose();
        var expected = ReferenceRouter.Assign(choices, c.Options);
        var accelerator = _device.Accelerator;
        using var deviceChoices = accelerator.Allocate1D(choices.Choices);
        using var deviceProbabilities = accelerator.Allocate1D(choices.ChoiceProbabilities);
        using var routing = _device.Router.Assign(deviceChoices.View, deviceProbabilities.View, c.Tokens, c.Options, 1 + chunk.Get % 9);
        var actual = routing.ToHost(choices.Choices, choices.Weights);
        Assert.Equal(expected.Capacity, actual.Capacity);
        Assert.Equal(expected.Slot, actual.Slot);
        Assert.Equal(expected.Demand, actual.Demand);
        Assert.Equal(expected.KeptCount, actual.KeptCount);
        Assert.Equal(expected.ExpertGroupOffsets, actual.ExpertGroupOffsets);
        Assert.Equal(expected.DispatchOrder, actual.DispatchOrder);
        Assert.Equal(expected.Row, actual.Row);
    }

    [Property]
    public void Device_softmax_matches_the_reference_within_tolerance_and_chooses_the_same_experts(RoutingCase c)
    {
        var expected = c.Choose();
        using var logits = _device.Accelerator.Allocate1D(c.Logits);
        using var bias = _device.Accelerator.Allocate1D(c.BiasOrZeros);
        using var topK = _device.Router.ChooseTopK(logits.View, c.Tokens, c.Options, bias.View);
        var actual = topK.ToHost(c.Experts, c.TopK);
        Assert.Equal(expected.Choices, actual.Choices);
        AssertClose(expected.Probabilities, actual.Probabilities);
        AssertClose(expected.ChoiceProbabilities, actual.ChoiceProbabilities);
        AssertClose(expected.Weights, actual.Weights);
    }

    /// <summary>
    /// Without batch-prioritised routing the whole device pipeline equals the reference. With it, the
    /// visit order is defined on the fp32 top-1 probabilities, and tokens whose logits are permutations
    /// of each other tie mathematically but may differ in the last bit between the device's fp32 and
    /// the reference's double sums; so there the law is: the device assignment equals the reference
    /// assignment of the device's own probabilities. The same holds for dropping by probability (and expert
    /// choice), whose keys are those fp32 probabilities.
    /// </summary>
    [Property(MaxTest = 50)]
    public void Device_routing_end_to_end_equals_the_reference(RoutingCase c)
    {
        var expected = c.Route();
        var actual = _device.Router.Route(c.Logits, c.Tokens, c.Options, c.BiasOrZeros);
        Assert.Equal(expected.Expert, actual.Expert);
        AssertClose(expected.Weight, actual.Weight);
        if (!c.Options.BatchPrioritized && !c.Options.KeepsMostProbable)
        {
            Assert.Equal(expected.Slot, actual.Slot);
            Assert.Equal(expected.DispatchOrder, actual.DispatchOrder);
            return;
        }
        using var logits = _device.Accelerator.Allocate1D(c.Logits);
        using var bias = _device.Accelerator.Allocate1D(c.BiasOrZeros);
        using var topK = _device.Router.ChooseTopK(logits.View, c.Tokens, c.Options, bias.View);
        var deviceChoices = topK.ToHost(c.Experts, c.TopK);
        var fromDeviceProbabilities = ReferenceRouter.Assign(deviceChoices, c.Options);
        Assert.Equal(fromDeviceProbabilities.Slot, actual.Slot);
        Assert.Equal(fromDeviceProbabilities.DispatchOrder, actual.DispatchOrder);
    }

    /// <summary>
    /// fp32 device losses and gradient against the double reference, within the "router losses +
    /// gradient" check's tolerance (per value; fp32 sums of up to N terms).
    /// </summary>
    [Property]
    public void Device_router_losses_and_gradient_match_the_reference(RoutingCase c)
    {
        const double lbScale = 0.01, zScale = 1e-4 * 1000;
        using var logits = _device.Accelerator.Allocate1D(c.Logits);
        using var bias = _device.Accelerator.Allocate1D(c.BiasOrZeros);
        using var topK = _device.Router.ChooseTopK(logits.View, c.Tokens, c.Options, bias.View);
        using var grad = _device.Accelerator.Allocate1D<float>(c.Logits.Length);
        grad.MemSetToZero();
        var (lb, z) = _device.Router.Losses(logits.View, topK, c.Options, grad.View, lbScale, zScale);

        var wide = c.Logits.Select(v => (double)v).ToArray();
        var choices = topK.Choices.GetAsArray1D();
        int group = c.Options.TokensPerGroup(c.Tokens);
        var expectedGrad = new double[wide.Length];
        // Rules without a load-balancing loss (expert choice, sigmoid scores) report 0 and add no gradient.
        double expectedLb = c.Options.HasLoadBalancingLoss
            ? RouterLosses.LoadBalancing(wide, choices, c.Tokens, c.Experts, c.TopK, group, expectedGrad, lbScale)
            : 0;
        double expectedZ = RouterLosses.ZLoss(wide, c.Tokens, c.Experts, expectedGrad, zScale);
        var tolerance = SelfTestCatalog.ToleranceOf("router losses + gradient");
        Assert.True(Math.Abs(lb - expectedLb) <= tolerance.Bound(expectedLb), $"load balancing {lb} vs {expectedLb}");
        Assert.True(Math.Abs(z - expectedZ) <= tolerance.Bound(expectedZ), $"z-loss {z} vs {expectedZ}");
        var actualGrad = grad.GetAsArray1D();
        for (int i = 0; i < wide.Length; i++)
            Assert.True(Math.Abs(actualGrad[i] - expectedGrad[i]) <= tolerance.Bound(expectedGrad[i]), $"grad[{i}] device {actualGrad[i]} vs reference {expectedGrad[i]}");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        var tolerance = SelfTestCatalog.ToleranceOf("router softmax");
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance.Bound(expected[i]), $"[{i}] device {actual[i]} vs reference {expected[i]}");
    }
}

/// <summary>The device laws on the small CPU accelerator (always available, also in CI).</summary>
public sealed class CpuDeviceRoutingTests(CpuRoutingDevice device) : DeviceRoutingLaws(device), IClassFixture<CpuRoutingDevice>;

#if OPENMOE_CUDA_TESTS
/// <summary>The device laws on the first CUDA GPU (OPENMOE_CUDA_TESTS=1 builds).</summary>
public sealed class CudaDeviceRoutingTests(CudaRoutingDevice device) : DeviceRoutingLaws(device), IClassFixture<CudaRoutingDevice>;
#endif
