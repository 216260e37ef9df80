using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Tests.Gemm;

/// <summary>The on-device self-check that `selftest` uses passes for the CPU providers, and its throughput probe measures.</summary>
public sealed class GemmSelfCheckTests(GemmCpuFixture cpu) : IClassFixture<GemmCpuFixture>
{
    [Fact]
    public void Self_check_passes_for_the_simd_provider()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator, GemmProviderKind.Simd);
        var result = GemmSelfCheck.Run(provider);
        Assert.True(result.Passed, $"{result.Provider}: {result.WorstErrorOverTolerance:F2}x tolerance at {result.WorstCase}");
        Assert.Equal(16, result.Cases);
    }

    [Fact]
    public void Throughput_probe_reports_a_positive_rate()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator, GemmProviderKind.Simd);
        double gflops = GemmThroughput.Measure(provider, GemmDesc.Create(64, 64, 64), warmup: 1, reps: 3);
        Assert.True(gflops > 0 && double.IsFinite(gflops));
    }
}
