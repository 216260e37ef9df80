using OpenMoE.Kernels.Optimizers;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// Kernel-vs-reference checks for gradient clipping and the optimizers (src/Kernels/Optimizers),
/// through the launchers training runs (<see cref="Kernels.OptimizerOps"/>), with the kernels forced
/// where the launchers would run the twins on the host (the CPU accelerator). The bound allows a
/// device's fused multiply-adds; the CPU accelerator gives the reference's bits (a test asserts it).
/// </summary>
public static class OptimizerKernelChecks
{
    /// <summary>Shapes of the checks: a vector, a matrix below the factoring threshold, stacked slices, more than one chunk.</summary>
    private static readonly (int Slices, int Rows, int Cols)[] Shapes = [(1, 1, 7), (1, 3, 129), (3, 5, 9), (1, 70, 130)];

    /// <summary>All optimizer checks.</summary>
    public static IReadOnlyList<KernelCheck> All { get; } =
    [
        new("sum-of-squares", new Tolerance(0, 1e-12), [typeof(SumOfSquares)], OnKernels(CheckSumOfSquares)),
        new("gradient-scale", Tolerance.Exact, [typeof(GradientScale)], OnKernels(CheckScale)),
        new("adamw", new Tolerance(1e-7, 1e-6), [typeof(AdamWKernels)], OnKernels(CheckAdamW)),
        new("adafactor", new Tolerance(1e-7, 1e-6), [typeof(AdafactorKernels)], OnKernels(CheckAdafactor)),
    ];

    /// <summary>Runs <paramref name="check"/> with the ILGPU kernels, not the host twins.</summary>
    private static Action<KernelCheckContext> OnKernels(Action<KernelCheckContext> check) => c =>
    {
        var ops = c.Device.Optimizers;
        bool hostLoops = ops.HostLoops;
        ops.HostLoops = false;
        try
        {
            check(c);
        }
        finally
        {
            ops.HostLoops = hostLoops;
        }
    };

    private static void CheckSumOfSquares(KernelCheckContext c)
    {
        foreach (long length in new long[] { 1, 4095, 4097, 3 * SumOfSquares.ChunkLength + 5 })
        {
            var x = c.RandomFloats(length);
            int chunks = SumOfSquares.Chunks(length);
            var partials = c.Zeros<double>(chunks);
            var total = c.Zeros<double>(1);
            c.Device.Optimizers.ChunkSumsOfSquares(c.Upload(x), partials, length);
            c.Device.Optimizers.Total(partials, total, chunks);
            c.Compare($"length={length}", c.Download(total), [SumOfSquares.Reference(x)]);
        }
    }

    private static void CheckScale(KernelCheckContext c)
    {
        var g = c.RandomFloats(1000);
        var view = c.Upload(g);
        c.Device.Optimizers.Scale(view, g.Length, 0.37f);
        GradientScale.Reference(g, 0.37f);
        c.Compare("length=1000", c.Download(view), g);
    }

    private static void CheckAdamW(KernelCheckContext c)
    {
        var step = new AdamWStep { Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, Decay = 0.01, LearningRate = 1e-2, Correction1 = 1 - 0.9 * 0.9, Correction2 = 1 - 0.95 * 0.95 };
        foreach (int length in new[] { 1, 7, 1031 })
        {
            var (w, g, m, v) = (c.RandomFloats(length), c.RandomFloats(length), c.RandomFloats(length, 0.1f), Positive(c.RandomFloats(length, 0.1f)));
            var (dw, dm, dv) = (c.Upload(w), c.Upload(m), c.Upload(v));
            c.Device.Optimizers.AdamW(dw, c.Upload(g), dm, dv, length, step);
            AdamWKernels.Reference(w, g, m, v, step);
            c.Compare($"w length={length}", c.Download(dw), w);
            c.Compare($"m length={length}", c.Download(dm), m);
            c.Compare($"v length={length}", c.Download(dv), v);
        }
    }

    private static void CheckAdafactor(KernelCheckContext c)
    {
        var step = new AdafactorStep { Beta2 = 1 - Math.Pow(3, -0.8), Epsilon1 = 1e-30, Epsilon2 = 1e-3, ClipThreshold = 1.0, LearningRate = 1e-2 };
        foreach (var (slices, rows, cols) in Shapes)
        {
            foreach (bool factored in new[] { false, true })
            {
                int length = slices * rows * cols;
                var (w, g) = (c.RandomFloats(length), c.RandomFloats(length));
                var v = Positive(c.RandomFloats(factored ? 1 : length, 0.1f));
                var vr = Positive(c.RandomFloats(factored ? slices * rows : 1, 0.1f));
                var vc = Positive(c.RandomFloats(factored ? slices * cols : 1, 0.1f));
                var (dw, dg, dv, dvr, dvc) = (c.Upload(w), c.Upload(g), c.Upload(v), c.Upload(vr), c.Upload(vc));
                int chunks = SumOfSquares.Chunks(length);
                if (factored)
                    c.Device.Optimizers.AdafactorFactored(dg, dvr, dvc, c.Zeros<double>(slices), slices, rows, cols, step);
                else
                    c.Device.Optimizers.AdafactorFull(dg, dv, length, step);
                c.Device.Optimizers.AdafactorApply(dw, dg, c.Zeros<double>(chunks), c.Zeros<double>(chunks), c.Zeros<double>(1), length, step);
                AdafactorKernels.Reference(w, g, v, vr, vc, new double[slices], new double[cols], factored, slices, rows, cols, step);
                string label = $"{(factored ? "factored" : "full")} {slices}x{rows}x{cols}";
                c.Compare($"w {label}", c.Download(dw), w);
                c.Compare($"update {label}", c.Download(dg), g);
                if (factored)
                {
                    c.Compare($"vr {label}", c.Download(dvr), vr);
                    c.Compare($"vc {label}", c.Download(dvc), vc);
                }
                else
                {
                    c.Compare($"v {label}", c.Download(dv), v);
                }
            }
        }
    }

    /// <summary>Second moments are never negative.</summary>
    private static float[] Positive(float[] values)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = Math.Abs(values[i]);
        return values;
    }
}
