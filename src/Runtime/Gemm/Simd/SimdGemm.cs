using System.Runtime.InteropServices;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Threading;

namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// Multi-threaded blocked SIMD GEMM on host pointers. C is split into one rectangle per
/// thread along whichever of M or N has more register tiles; each thread packs its own
/// blocks into buffers allocated once, so a call allocates nothing. The call's arguments live in
/// fields, so calls from several threads take turns. Operands may be fp32 or bf16
/// (<see cref="OpenMoE.Kernels.BFloat16"/>): bf16 is widened exactly while packing and accumulated in fp32,
/// so a bf16 product equals the fp32 product of the widened values bit for bit.
/// </summary>
public sealed unsafe class SimdGemm : IDisposable
{
    // Below this many multiply-adds a second thread costs more than it saves.
    private const double MinParallelMacs = 96.0 * 96 * 96;

    private readonly HostWorkerPool pool;
    private readonly object turn = new();
    private readonly float*[] packA;
    private readonly float*[] packB;
    private readonly Action<int> runPart;
    private readonly int mr, nr;
    private GemmDesc job;
    private void* jobA, jobB;
    private float* jobC;
    private bool jobABf16, jobBBf16;
    private int parts;
    private bool splitRows;
    private bool disposed;

    /// <summary>An engine for <paramref name="isa"/> (Best: the widest this CPU has) on <paramref name="threads"/> threads.</summary>
    public SimdGemm(SimdIsa isa = SimdIsa.Best, int threads = 0)
    {
        Isa = SimdIsas.Resolve(isa);
        int count = threads > 0 ? threads : Environment.ProcessorCount;
        (mr, nr, int aSize, int bSize) = Isa switch
        {
            SimdIsa.Avx512 => (Avx512MicroKernel.MR, Avx512MicroKernel.NR,
                SimdGemmDriver<Avx512MicroKernel>.PackASize, SimdGemmDriver<Avx512MicroKernel>.PackBSize),
            SimdIsa.Avx2 => (Avx2MicroKernel.MR, Avx2MicroKernel.NR,
                SimdGemmDriver<Avx2MicroKernel>.PackASize, SimdGemmDriver<Avx2MicroKernel>.PackBSize),
            _ => (ScalarMicroKernel.MR, ScalarMicroKernel.NR,
                SimdGemmDriver<ScalarMicroKernel>.PackASize, SimdGemmDriver<ScalarMicroKernel>.PackBSize),
        };
        packA = new float*[count];
        packB = new float*[count];
        for (int t = 0; t < count; t++)
        {
            packA[t] = (float*)NativeMemory.AlignedAlloc((nuint)aSize * sizeof(float), 64);
            packB[t] = (float*)NativeMemory.AlignedAlloc((nuint)bSize * sizeof(float), 64);
        }
        // The process's one pool unless a test or bench asks for another thread count.
        pool = count == HostWorkerPool.Shared.Threads ? HostWorkerPool.Shared : new HostWorkerPool(count, "gemm");
        runPart = RunPart;
    }

    /// <summary>The micro-kernel's instruction set.</summary>
    public SimdIsa Isa { get; }

    /// <summary>Threads per product, the caller's included.</summary>
    public int Threads => pool.Threads;

    /// <summary>
    /// C = Alpha·op(A)·op(B) + Beta·C on host memory. The pointers must cover
    /// <see cref="GemmDesc.AExtent"/>, <see cref="GemmDesc.BExtent"/> and <see cref="GemmDesc.CExtent"/> floats.
    /// </summary>
    public void Sgemm(in GemmDesc d, float* a, float* b, float* c) => Gemm(d, a, false, b, false, c);

    /// <summary>As <see cref="Sgemm"/> with bf16 B (fp32 activations times bf16 weights), fp32 accumulation and C.</summary>
    public void Gemm(in GemmDesc d, float* a, OpenMoE.Kernels.BFloat16* b, float* c) => Gemm(d, a, false, b, true, c);

    /// <summary>As <see cref="Sgemm"/> with bf16 A and B, fp32 accumulation and C.</summary>
    public void Gemm(in GemmDesc d, OpenMoE.Kernels.BFloat16* a, OpenMoE.Kernels.BFloat16* b, float* c) => Gemm(d, a, true, b, true, c);

    private void Gemm(in GemmDesc d, void* a, bool aBf16, void* b, bool bBf16, float* c)
    {
        lock (turn)
        {
            (jobABf16, jobBBf16) = (aBf16, bBf16);
            GemmAlone(d, a, b, c);
        }
    }

    private void GemmAlone(in GemmDesc d, void* a, void* b, float* c)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (d.M == 0 || d.N == 0)
            return;
        if (d.K == 0 || d.Alpha == 0f)
        {
            ScaleC(d, c);
            return;
        }

        int tilesM = (d.M + mr - 1) / mr;
        int tilesN = (d.N + nr - 1) / nr;
        splitRows = tilesM > tilesN;
        int maxParts = splitRows ? tilesM : tilesN;
        double macs = (double)d.M * d.N * d.K;
        parts = macs < MinParallelMacs ? 1 : Math.Min(pool.Threads, maxParts);
        job = d;
        jobA = a;
        jobB = b;
        jobC = c;
        if (parts == 1)
            RunPart(0);
        else
            pool.Run(runPart, parts);
    }

    private void RunPart(int part)
    {
        int m0 = 0, m1 = job.M, n0 = 0, n1 = job.N;
        if (splitRows)
            (m0, m1) = Slice(job.M, mr, part);
        else
            (n0, n1) = Slice(job.N, nr, part);
        if (m0 >= m1 || n0 >= n1)
            return;
        switch (Isa)
        {
            case SimdIsa.Avx512:
                RunPart<Avx512MicroKernel>(m0, m1, n0, n1, part);
                break;
            case SimdIsa.Avx2:
                RunPart<Avx2MicroKernel>(m0, m1, n0, n1, part);
                break;
            default:
                RunPart<ScalarMicroKernel>(m0, m1, n0, n1, part);
                break;
        }
    }

    // One instantiation of the driver per micro-kernel and pair of operand types (the JIT specialises each).
    private void RunPart<TKernel>(int m0, int m1, int n0, int n1, int part) where TKernel : struct, IMicroKernel
    {
        float* pa = packA[part], pb = packB[part];
        switch (jobABf16, jobBBf16)
        {
            case (false, false):
                SimdGemmDriver<TKernel>.Run<float, Fp32Operand, float, Fp32Operand>(job, (float*)jobA, (float*)jobB, jobC, m0, m1, n0, n1, pa, pb);
                break;
            case (false, true):
                SimdGemmDriver<TKernel>.Run<float, Fp32Operand, OpenMoE.Kernels.BFloat16, Bf16Operand>(job, (float*)jobA, (OpenMoE.Kernels.BFloat16*)jobB, jobC, m0, m1, n0, n1, pa, pb);
                break;
            default:
                SimdGemmDriver<TKernel>.Run<OpenMoE.Kernels.BFloat16, Bf16Operand, OpenMoE.Kernels.BFloat16, Bf16Operand>(job, (OpenMoE.Kernels.BFloat16*)jobA, (OpenMoE.Kernels.BFloat16*)jobB, jobC, m0, m1, n0, n1, pa, pb);
                break;
        }
    }

    /// <summary>Part <paramref name="part"/> of [0, size) cut on tile boundaries into <see cref="parts"/> nearly equal slices.</summary>
    private (int Start, int End) Slice(int size, int tile, int part)
    {
        int tiles = (size + tile - 1) / tile;
        int per = tiles / parts, extra = tiles % parts;
        int first = part * per + Math.Min(part, extra);
        int count = per + (part < extra ? 1 : 0);
        return (Math.Min(size, first * tile), Math.Min(size, (first + count) * tile));
    }

    private static void ScaleC(in GemmDesc d, float* c)
    {
        for (int i = 0; i < d.M; i++)
        {
            var row = new Span<float>(c + (long)i * d.Ldc, d.N);
            if (d.Beta == 0f)
                row.Clear();
            else
                for (int j = 0; j < row.Length; j++)
                    row[j] *= d.Beta;
        }
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        if (pool != HostWorkerPool.Shared)
            pool.Dispose();
        for (int t = 0; t < packA.Length; t++)
        {
            NativeMemory.AlignedFree(packA[t]);
            NativeMemory.AlignedFree(packB[t]);
        }
    }
}
