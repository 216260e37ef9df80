using OpenMoE.Runtime.Gemm.Simd;
using System.Diagnostics;
using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Bench.Gemm;

/// <summary>
/// GFLOP/s of the SIMD GEMM provider on OpenMoE-Base shapes next to OpenBLAS cblas_sgemm in
/// the same process, on the same buffers, with the same thread count; the two are timed
/// alternately, rep by rep, so machine noise hits both. Also the portable ILGPU tiled kernel
/// on the CPU accelerator, on one small shape, for scale. Prints JSON.
/// Usage: gemm [--threads 2] [--reps 7] [--warmup 2] [--tokens 512] [--vocab 32768] [--json FILE] [--no-tiled] [--only ffn_gate,lm_head]
/// </summary>
public static unsafe class GemmBench
{
    public static int Run(string[] args)
    {
        var options = GemmBenchOptions.Parse(args);
        OpenBlas.SetNumThreads(options.Threads);
        var device = new CPUDevice(2, 1, Environment.ProcessorCount);
        using var context = Context.Create(builder => builder.CPU(device).EnableAlgorithms());
        using var accelerator = device.CreateAccelerator(context);
        using var simd = new SimdGemmProvider(accelerator, SimdIsa.Best, options.Threads);

        var results = new List<GemmComparison>();
        foreach (var shape in GemmBenchShape.Base(options.Tokens, options.Vocab))
        {
            if (options.Only is not null && !options.Only.Split(',').Contains(shape.Name))
                continue;
            var r = CompareWithOpenBlas(accelerator, simd, shape, options);
            Console.Error.WriteLine($"{shape.Name,-12} {shape.M}x{shape.N}x{shape.K}  median simd {r.SimdGflops,6:F1} openblas {r.OpenBlasGflops,6:F1} ratio {r.Ratio:F2} | best simd {r.SimdBestGflops,6:F1} openblas {r.OpenBlasBestGflops,6:F1} ratio {r.RatioBest:F2}");
            results.Add(r);
        }

        object? tiled = options.Tiled ? MeasureTiled(accelerator, simd, options) : null;
        var report = new
        {
            bench = "gemm",
            machine = new { Environment.ProcessorCount, os = Environment.OSVersion.VersionString, isa = simd.Isa.ToString() },
            openblas = OpenBlas.Config,
            threads = options.Threads,
            reps = options.Reps,
            warmup = options.Warmup,
            shapes = results,
            geomean_ratio = Math.Exp(results.Average(r => Math.Log(r.Ratio))),
            geomean_ratio_best = Math.Exp(results.Average(r => Math.Log(r.RatioBest))),
            ilgpu_tiled_cpu = tiled,
        };
        var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
        Console.WriteLine(json);
        if (options.JsonPath is not null)
            File.WriteAllText(options.JsonPath, json);
        return 0;
    }

    private static GemmComparison CompareWithOpenBlas(Accelerator accelerator, SimdGemmProvider simd,
        GemmBenchShape s, GemmBenchOptions o)
    {
        var d = GemmDesc.Create(s.M, s.N, s.K, s.TransA, s.TransB);
        using var a = Filled(accelerator, d.AExtent, 1);
        using var b = Filled(accelerator, d.BExtent, 2);
        using var cSimd = accelerator.Allocate1D<float>(d.CExtent);
        using var cBlas = accelerator.Allocate1D<float>(d.CExtent);
        float* pa = Pointer(a);
        float* pb = Pointer(b);
        float* pcBlas = Pointer(cBlas);

        void RunSimd() => simd.Sgemm(d, a.View, b.View, cSimd.View);
        void RunBlas() => OpenBlas.Sgemm(d.TransA, d.TransB, d.M, d.N, d.K, 1f, pa, d.Lda, pb, d.Ldb, 0f, pcBlas, d.Ldc);

        for (int w = 0; w < o.Warmup; w++)
        {
            RunSimd();
            RunBlas();
        }
        var simdTimes = new double[o.Reps];
        var blasTimes = new double[o.Reps];
        for (int r = 0; r < o.Reps; r++)
        {
            // Alternate which goes first so neither always inherits the other's warm caches.
            if (r % 2 == 0)
            {
                simdTimes[r] = Time(RunSimd);
                blasTimes[r] = Time(RunBlas);
            }
            else
            {
                blasTimes[r] = Time(RunBlas);
                simdTimes[r] = Time(RunSimd);
            }
        }
        double simdGflops = d.Flops / Median(simdTimes) / 1e9;
        double blasGflops = d.Flops / Median(blasTimes) / 1e9;
        double simdBest = d.Flops / simdTimes.Min() / 1e9;
        double blasBest = d.Flops / blasTimes.Min() / 1e9;
        return new GemmComparison(s.Name, s.M, s.N, s.K, Ops(s), Math.Round(simdGflops, 2), Math.Round(blasGflops, 2),
            Math.Round(simdGflops / blasGflops, 3), Math.Round(simdBest, 2), Math.Round(blasBest, 2),
            Math.Round(simdBest / blasBest, 3), MaxRelativeDifference(cSimd.GetAsArray1D(), cBlas.GetAsArray1D()));
    }

    private static object MeasureTiled(Accelerator accelerator, SimdGemmProvider simd, GemmBenchOptions o)
    {
        var d = GemmDesc.Create(16, 256, 256, false, true);
        using var tiled = new IlgpuTiledGemmProvider(accelerator);
        using var a = Filled(accelerator, d.AExtent, 3);
        using var b = Filled(accelerator, d.BExtent, 4);
        using var c = accelerator.Allocate1D<float>(d.CExtent);
        void RunTiled()
        {
            tiled.Sgemm(d, a.View, b.View, c.View);
            accelerator.Synchronize();
        }
        RunTiled();
        double tiledSeconds = Median([Time(RunTiled), Time(RunTiled), Time(RunTiled)]);
        double simdSeconds = Median(Enumerable.Range(0, o.Reps).Select(_ => Time(() => simd.Sgemm(d, a.View, b.View, c.View))).ToArray());
        return new
        {
            shape = "16x256x256 NT",
            tiled_gflops = Math.Round(d.Flops / tiledSeconds / 1e9, 4),
            simd_gflops = Math.Round(d.Flops / simdSeconds / 1e9, 2),
        };
    }

    // CPU accelerator memory is host memory: OpenBLAS reads the very buffers the provider does.
    private static float* Pointer(MemoryBuffer1D<float, Stride1D.Dense> buffer) =>
        (float*)((ArrayView<float>)buffer.View).LoadEffectiveAddressAsPtr();

    private static string Ops(GemmBenchShape s) => (s.TransA ? "T" : "N") + (s.TransB ? "T" : "N");

    private static MemoryBuffer1D<float, Stride1D.Dense> Filled(Accelerator accelerator, long length, int seed)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (long i = 0; i < length; i++)
            data[i] = (float)(rng.NextDouble() * 2 - 1);
        return accelerator.Allocate1D(data);
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    private static double MaxRelativeDifference(float[] x, float[] y)
    {
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < x.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)x[i] - y[i]));
            scale = Math.Max(scale, Math.Abs((double)y[i]));
        }
        return worst / scale;
    }
}

/// <summary>
/// One shape's result; ratios are SIMD GFLOP/s over OpenBLAS GFLOP/s (above 1: we are faster),
/// from the median run and from the best run of each (the best is the steadier figure on a busy machine).
/// </summary>
internal sealed record GemmComparison(string Name, int M, int N, int K, string Ops, double SimdGflops, double OpenBlasGflops,
    double Ratio, double SimdBestGflops, double OpenBlasBestGflops, double RatioBest, double MaxDiffVsOpenBlas);
