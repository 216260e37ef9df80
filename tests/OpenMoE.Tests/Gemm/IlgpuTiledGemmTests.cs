using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Tests.Gemm;

/// <summary>The portable ILGPU tiled kernel on the CPU accelerator, against the reference.</summary>
public sealed class IlgpuTiledGemmTests(GemmCpuFixture cpu) : IClassFixture<GemmCpuFixture>
{
    // The CPU accelerator runs each logical thread as an OS thread with real barriers, so
    // the biggest shapes are left to the SIMD tests; every transpose and edge kind stays.
    private const int MaxMacs = 300_000;

    [Fact]
    public void Matches_reference_on_odd_shapes_offsets_transposes_and_scaling()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator, GemmProviderKind.IlgpuTiled);
        int seed = 1;
        foreach (var c in GemmCases.All(MaxMacs))
        {
            double worst = c.Run(provider, seed++);
            Assert.True(worst <= 1, $"{provider.Name} {c}: error {worst:F2}x the tolerance.");
        }
    }

    [Fact]
    public void Strided_batches_match_reference()
    {
        using var provider = GemmProviders.Create(cpu.Accelerator, GemmProviderKind.IlgpuTiled);
        int seed = 100;
        foreach (var c in GemmCases.Batched())
        {
            double worst = c.Run(provider, seed++);
            Assert.True(worst <= 1, $"{provider.Name} {c}: error {worst:F2}x the tolerance.");
        }
    }
}
