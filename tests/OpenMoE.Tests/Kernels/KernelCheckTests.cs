using OpenMoE.Runtime.SelfTest;
using OpenMoE.Model.SelfTest;

namespace OpenMoE.Tests.Kernels;

/// <summary>
/// Every catalog check (kernel vs plain-C# reference within the op's tolerance), written once
/// and run per accelerator by the subclasses below. The same checks back <c>openmoe selftest</c>.
/// </summary>
public abstract class KernelCheckTests<TFixture>(TFixture fixture) where TFixture : DeviceFixture
{
    public static TheoryData<string> CheckNames() => [.. SelfTestCatalog.Checks.Select(check => check.Name)];

    [Theory]
    [MemberData(nameof(CheckNames))]
    public void Kernel_matches_its_reference_within_the_declared_tolerance(string name)
    {
        var check = SelfTestCatalog.Checks.Single(c => c.Name == name);
        var result = SelfTestRunner.Run(fixture.Device, check);
        Assert.True(result.Error is null, result.Error);
        Assert.True(result.Comparisons > 0, "the check compared nothing");
        Assert.True(result.Passed, $"{name}: worst error {result.WorstAbsError:G3} ({result.WorstRatio:F2}x the bound {result.Tolerance}) at {result.WorstCase}");
    }
}

public sealed class CpuKernelCheckTests(CpuDeviceFixture fixture)
    : KernelCheckTests<CpuDeviceFixture>(fixture), IClassFixture<CpuDeviceFixture>;

#if OPENMOE_CUDA_TESTS
public sealed class CudaKernelCheckTests(CudaDeviceFixture fixture)
    : KernelCheckTests<CudaDeviceFixture>(fixture), IClassFixture<CudaDeviceFixture>;
#endif
