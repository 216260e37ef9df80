using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm.Simd;

namespace OpenMoE.Runtime.Gemm;

/// <summary>
/// The SIMD GEMM on the CPU accelerator's buffers. ILGPU's CPU memory is host memory, so a
/// view's effective address is a plain pointer the SIMD engine reads and writes in place:
/// no copies. Waits for the default stream first so earlier kernels have finished.
/// </summary>
public sealed unsafe class SimdGemmProvider : IGemmProvider
{
    private readonly SimdGemm engine;

    /// <param name="accelerator">Must be ILGPU's CPU accelerator.</param>
    /// <param name="isa">Micro-kernel instruction set; Best picks the widest this CPU has.</param>
    /// <param name="threads">Threads per product (the caller's included).</param>
    public SimdGemmProvider(Accelerator accelerator, SimdIsa isa = SimdIsa.Best, int threads = 0)
    {
        if (accelerator.AcceleratorType != AcceleratorType.CPU)
            throw new NotSupportedException(
                $"The SIMD GEMM works on host memory and needs the CPU accelerator, not {accelerator.AcceleratorType}.");
        Accelerator = accelerator;
        engine = new SimdGemm(isa, threads);
    }

    public string Name => "simd-" + engine.Isa.ToString().ToLowerInvariant();

    public Accelerator Accelerator { get; }

    /// <summary>The engine's instruction set.</summary>
    public SimdIsa Isa => engine.Isa;

    public void Sgemm(in GemmDesc desc, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c) =>
        SgemmStridedBatched(desc, a, 0, b, 0, c, 0, 1);

    public void SgemmStridedBatched(in GemmDesc desc, ArrayView<float> a, long strideA,
        ArrayView<float> b, long strideB, ArrayView<float> c, long strideC, int batch)
    {
        GemmChecks.ValidateBatched(desc, a.Length, strideA, b.Length, strideB, c.Length, strideC, batch);
        if (desc.M == 0 || desc.N == 0 || batch == 0)
            return;
        Accelerator.DefaultStream.Synchronize();
        float* pa = Address(a), pb = Address(b), pc = (float*)c.LoadEffectiveAddressAsPtr();
        for (int p = 0; p < batch; p++)
            engine.Sgemm(desc, pa + p * strideA, pb + p * strideB, pc + p * strideC);
    }

    // A and B are not read when K is 0, and may then be empty views without an address.
    private static float* Address(ArrayView<float> view) =>
        view.Length == 0 ? null : (float*)view.LoadEffectiveAddressAsPtr();

    public void Dispose() => engine.Dispose();
}
