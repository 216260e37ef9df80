using OpenMoE.Runtime.Gemm.Simd;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Tests.Gemm;

/// <summary>The SIMD GEMM, with each micro-kernel this CPU supports, against the reference.</summary>
public sealed class SimdGemmProviderTests(GemmCpuFixture cpu) : IClassFixture<GemmCpuFixture>
{
    public static TheoryData<SimdIsa> Isas()
    {
        var data = new TheoryData<SimdIsa>();
        foreach (var isa in SimdIsas.Supported)
            data.Add(isa);
        return data;
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Matches_reference_on_odd_shapes_offsets_transposes_and_scaling(SimdIsa isa)
    {
        using var provider = new SimdGemmProvider(cpu.Accelerator, isa, threads: 2);
        int seed = 1;
        foreach (var c in GemmCases.All())
        {
            double worst = c.Run(provider, seed++);
            Assert.True(worst <= 1, $"{provider.Name} {c}: error {worst:F2}x the tolerance.");
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Strided_batches_match_reference(SimdIsa isa)
    {
        using var provider = new SimdGemmProvider(cpu.Accelerator, isa, threads: 2);
        int seed = 100;
        foreach (var c in GemmCases.Batched())
        {
            double worst = c.Run(provider, seed++);
            Assert.True(worst <= 1, $"{provider.Name} {c}: error {worst:F2}x the tolerance.");
        }
    }

    [Fact]
    public void One_and_two_threads_both_match_reference()
    {
        using var one = new SimdGemmProvider(cpu.Accelerator, SimdIsa.Best, threads: 1);
        using var two = new SimdGemmProvider(cpu.Accelerator, SimdIsa.Best, threads: 2);
        var c = new GemmCase(200, 150, 90, false, true, Pad: 1, 1f, 0f);
        Assert.True(c.Run(one, 7) <= 1);
        Assert.True(c.Run(two, 7) <= 1);
    }

    [Fact]
    public void Factory_picks_simd_on_the_cpu_accelerator()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator);
        Assert.IsType<SimdGemmProvider>(provider);
        Assert.Equal(GemmProviderKind.Simd, GemmProviders.Preferred(cpu.Accelerator.AcceleratorType));
    }

    [Fact]
    public void Cublas_on_the_cpu_accelerator_is_refused_with_a_clear_message()
    {
        var e = Assert.Throws<NotSupportedException>(() => GemmProviders.Create(cpu.Accelerator, GemmProviderKind.CuBlas));
        Assert.Contains("CUDA", e.Message);
    }

    [Fact]
    public void Too_short_operand_is_rejected_before_any_work()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator);
        using var a = cpu.Accelerator.Allocate1D<float>(10);
        using var b = cpu.Accelerator.Allocate1D<float>(12);
        using var c = cpu.Accelerator.Allocate1D<float>(12);
        var e = Assert.Throws<ArgumentException>(() =>
            provider.Sgemm(OpenMoE.Kernels.Gemm.GemmDesc.Create(3, 4, 4), a.View, b.View, c.View));
        Assert.Contains("operand A", e.Message);
    }
}
