using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm;

/// <summary>
/// GEMM through the portable <see cref="GemmTiledKernel"/>, on any accelerator. The kernel is
/// loaded once per provider; launches go to the accelerator's default stream.
/// </summary>
public sealed class IlgpuTiledGemmProvider : IGemmProvider
{
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmKernelParams> kernel;
    private readonly int groupSize;
    private readonly int maxGroups;

    public IlgpuTiledGemmProvider(Accelerator accelerator)
    {
        Accelerator = accelerator;
        kernel = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmKernelParams>(
            GemmTiledKernel.Kernel);
        groupSize = Math.Min(GemmTiledKernel.Tile * GemmTiledKernel.Tile, accelerator.MaxNumThreadsPerGroup);
        // Enough groups to fill every multiprocessor; the grid-stride loop covers the rest.
        int groupsPerMultiprocessor = Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / groupSize);
        maxGroups = Math.Max(1, accelerator.NumMultiprocessors * groupsPerMultiprocessor);
    }

    public string Name => "ilgpu-tiled";

    public Accelerator Accelerator { get; }

    public void Sgemm(in GemmDesc desc, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c) =>
        SgemmStridedBatched(desc, a, 0, b, 0, c, 0, 1);

    public void SgemmStridedBatched(in GemmDesc desc, ArrayView<float> a, long strideA,
        ArrayView<float> b, long strideB, ArrayView<float> c, long strideC, int batch)
    {
        GemmChecks.ValidateBatched(desc, a.Length, strideA, b.Length, strideB, c.Length, strideC, batch);
        if (desc.M == 0 || desc.N == 0 || batch == 0)
            return;
        long tiles = (long)((desc.M + GemmTiledKernel.Tile - 1) / GemmTiledKernel.Tile)
            * ((desc.N + GemmTiledKernel.Tile - 1) / GemmTiledKernel.Tile) * batch;
        int groups = (int)Math.Min(tiles, maxGroups);
        kernel(new KernelConfig(groups, groupSize), a, b, c,
            new GemmKernelParams(desc, strideA, strideB, strideC, batch));
    }

    public void Dispose()
    {
    }
}
