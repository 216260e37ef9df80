using OpenMoE.Runtime.SelfTest;
using OpenMoE.Model.SelfTest;
using OpenMoE.Kernels;

namespace OpenMoE.Tests.Kernels;

public class KernelCatalogTests
{
    [Fact]
    public void Every_kernel_class_is_covered_by_a_check()
        => Assert.Empty(KernelCatalog.UncheckedKernelTypes(SelfTestCatalog.Checks));

    [Fact]
    public void Discovery_finds_plain_and_size_specialised_kernels_but_no_references()
    {
        var names = KernelCatalog.EntryPoints.Select(e => e.Name).ToList();
        Assert.Contains("RmsNorm.Forward", names);
        Assert.Contains("RmsNorm.Forward<TDims>", names);
        Assert.Contains("Attention.Causal<TDims>", names);
        Assert.Contains("MoeCombine.Combine", names);
        Assert.DoesNotContain(names, n => n.Contains("Reference", StringComparison.Ordinal));
        Assert.All(KernelCatalog.EntryPoints, e => Assert.False(e.Method.ContainsGenericParameters, e.Name));
    }

    [Fact]
    public void Check_names_are_unique()
        => Assert.Equal(SelfTestCatalog.Checks.Count, SelfTestCatalog.Checks.Select(c => c.Name).Distinct().Count());

    [Fact]
    public void A_result_outside_the_tolerance_fails_the_check()
    {
        using var fixture = new CpuDeviceFixture();
        var wrong = new KernelCheck("deliberately-wrong", new Tolerance(1e-6, 0), [typeof(ResidualAdd)], c =>
        {
            var x = c.Upload(new float[] { 1, 2, 3 });
            c.Device.Ops.ResidualAdd(x, c.Upload(new float[] { 1, 1, 1 }), 3);
            c.Compare("off-by-one", c.Download(x), [2, 3, 5]);
        });
        var result = SelfTestRunner.Run(fixture.Device, wrong);
        Assert.False(result.Passed);
        Assert.Equal(1.0, result.WorstAbsError, 6);
        Assert.Contains("off-by-one[2]", result.WorstCase);
    }

    [Fact]
    public void A_check_that_throws_is_a_failure_with_its_message()
    {
        using var fixture = new CpuDeviceFixture();
        var throwing = new KernelCheck("bad-shape", Tolerance.Exact, [typeof(ResidualAdd)], c =>
            c.Device.Ops.ResidualAdd(c.Zeros<float>(2), c.Zeros<float>(2), 3));
        var result = SelfTestRunner.Run(fixture.Device, throwing);
        Assert.False(result.Passed);
        Assert.Contains("needs 3 elements", result.Error);
    }
}
