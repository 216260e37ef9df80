using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm;

/// <summary>
/// GFLOP/s of one provider on one shape, on its own accelerator (for `openmoe bench gemm`
/// on CUDA, where OpenBLAS is not the reference). Each timed run ends with a synchronize,
/// so asynchronous providers (cuBLAS, ILGPU kernels) are measured to completion.
/// </summary>
public static class GemmThroughput
{
    /// <summary>Median GFLOP/s over <paramref name="reps"/> runs after <paramref name="warmup"/> untimed ones.</summary>
    public static double Measure(IGemmProvider provider, in GemmDesc desc, int warmup = 2, int reps = 7)
    {
        var accel = provider.Accelerator;
        using var a = accel.Allocate1D<float>(Math.Max(1, desc.AExtent));
        using var b = accel.Allocate1D<float>(Math.Max(1, desc.BExtent));
        using var c = accel.Allocate1D<float>(Math.Max(1, desc.CExtent));
        a.MemSetToZero();
        b.MemSetToZero();
        c.MemSetToZero();
        var d = desc;
        void Once()
        {
            provider.Sgemm(d, a.View, b.View, c.View);
            accel.Synchronize();
        }
        for (int w = 0; w < warmup; w++)
            Once();
        var seconds = new double[Math.Max(1, reps)];
        for (int r = 0; r < seconds.Length; r++)
        {
            long start = Stopwatch.GetTimestamp();
            Once();
            seconds[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(seconds);
        return desc.Flops / seconds[seconds.Length / 2] / 1e9;
    }
}
