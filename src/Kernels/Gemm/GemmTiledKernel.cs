using ILGPU;

namespace OpenMoE.Kernels.Gemm;

/// <summary>
/// Portable shared-memory tiled GEMM for any ILGPU accelerator (the fallback where neither
/// cuBLAS nor the CPU SIMD GEMM applies). Twin: <see cref="GemmReference"/>.
/// <para>
/// Explicitly grouped and grid-stride: each group walks whole 16x16 tiles of C (over all
/// batch entries), staging 16x16 tiles of op(A) and op(B) in shared memory. The group may
/// have any size: a group of 256 threads computes one tile in one pass, a smaller group
/// (the CPU accelerator's groups have 2 threads) in several passes, so no warp or group
/// size is assumed.
/// </para>
/// </summary>
public static class GemmTiledKernel
{
    /// <summary>Side of the square tiles of C, op(A) and op(B).</summary>
    public const int Tile = 16;

    private const int TileElements = Tile * Tile;

    /// <summary>Kernel entry: a [batch] x ([M,K] @ [K,N]) product, see <see cref="GemmKernelParams"/>.</summary>
    public static void Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmKernelParams p)
    {
        var aTile = SharedMemory.Allocate<float>(TileElements); // [Tile rows of C, Tile k]
        var bTile = SharedMemory.Allocate<float>(TileElements); // [Tile k, Tile cols of C]
        int tid = Group.IdxX;
        int groupSize = Group.DimX;
        int tilesN = (p.N + Tile - 1) / Tile;
        long tilesPerProduct = (long)((p.M + Tile - 1) / Tile) * tilesN;
        long totalTiles = tilesPerProduct * p.Batch;

        for (long t = Grid.IdxX; t < totalTiles; t += Grid.DimX)
        {
            long product = t / tilesPerProduct;
            long tileInProduct = t - product * tilesPerProduct;
            int row0 = (int)(tileInProduct / tilesN) * Tile;
            int col0 = (int)(tileInProduct % tilesN) * Tile;
            long aBase = product * p.StrideA;
            long bBase = product * p.StrideB;
            long cBase = product * p.StrideC;

            for (int first = 0; first < TileElements; first += groupSize)
            {
                int o = first + tid;
                int li = o / Tile;
                int lj = o - li * Tile;
                float acc = 0f;
                for (int k0 = 0; k0 < p.K; k0 += Tile)
                {
                    for (int e = tid; e < TileElements; e += groupSize)
                    {
                        int r = e / Tile;
                        int q = e - r * Tile;
                        aTile[e] = LoadA(a, p, aBase, row0 + r, k0 + q);
                        bTile[e] = LoadB(b, p, bBase, k0 + r, col0 + q);
                    }
                    Group.Barrier();
                    if (o < TileElements)
                    {
                        for (int kk = 0; kk < Tile; kk++)
                            acc += aTile[li * Tile + kk] * bTile[kk * Tile + lj];
                    }
                    Group.Barrier();
                }

                int i = row0 + li;
                int j = col0 + lj;
                if (o < TileElements && i < p.M && j < p.N)
                {
                    long ci = cBase + (long)i * p.Ldc + j;
                    c[ci] = p.Beta == 0f ? p.Alpha * acc : p.Alpha * acc + p.Beta * c[ci];
                }
            }
        }
    }

    /// <summary>op(A)[i,k], or 0 outside [M,K] so edge tiles need no special case.</summary>
    private static float LoadA(ArrayView<float> a, GemmKernelParams p, long baseIndex, int i, int k)
    {
        if (i >= p.M || k >= p.K)
            return 0f;
        long index = p.TransA != 0 ? (long)k * p.Lda + i : (long)i * p.Lda + k;
        return a[baseIndex + index];
    }

    /// <summary>op(B)[k,j], or 0 outside [K,N].</summary>
    private static float LoadB(ArrayView<float> b, GemmKernelParams p, long baseIndex, int k, int j)
    {
        if (k >= p.K || j >= p.N)
            return 0f;
        long index = p.TransB != 0 ? (long)j * p.Ldb + k : (long)k * p.Ldb + j;
        return b[baseIndex + index];
    }
}
