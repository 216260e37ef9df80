using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// Selftest checks of the matrix products: the device's own provider (SIMD on the CPU, cuBLAS on
/// CUDA) and the portable ILGPU tiled kernel, against <see cref="GemmReference"/>. A GEMM's error
/// grows with sum_k |a_ik b_kj|, so each element is compared after dividing by (1 + that sum).
/// </summary>
public static class GemmKernelChecks
{
    /// <summary>The GEMM checks.</summary>
    public static IReadOnlyList<KernelCheck> All { get; } =
    [
        new("gemm (device provider)", new Tolerance(1e-5, 0), [], c => Check(c, GemmProviderKind.Auto)),
        new("gemm (ilgpu tiled kernel)", new Tolerance(1e-5, 0), [typeof(GemmTiledKernel)], c => Check(c, GemmProviderKind.IlgpuTiled)),
    ];

    private static readonly (int M, int N, int K)[] Shapes = [(1, 1, 1), (7, 13, 5), (129, 130, 65)];

    private static void Check(KernelCheckContext c, GemmProviderKind kind)
    {
        using var gemm = GemmProviders.Create(c.Device.Accelerator, kind);
        foreach (var (m, n, k) in Shapes)
        {
            foreach (bool transB in new[] { false, true })
            {
                var desc = GemmDesc.Create(m, n, k, transB: transB);
                var a = c.RandomFloats(desc.AExtent);
                var b = c.RandomFloats(desc.BExtent);
                var expected = new float[desc.CExtent];
                GemmReference.Sgemm(desc, a, b, expected);
                var output = c.Zeros<float>(desc.CExtent);
                gemm.Sgemm(desc, c.Upload(a), c.Upload(b), output);
                var actual = c.Download(output);
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        float scale = (float)(1 + GemmReference.AbsProductSum(desc, a, b, i, j));
                        actual[i * n + j] /= scale;
                        expected[i * n + j] /= scale;
                    }
                }
                c.Compare($"{gemm.Name} {m}x{n}x{k} N{(transB ? 'T' : 'N')}", actual, expected);
            }
        }
    }
}
