using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Optimizers;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Typed launchers for the optimizer kernels (src/Kernels/Optimizers) on one device: gradient
/// clipping, AdamW and Adafactor run on the device's buffers, so a training step moves no weights
/// or gradients. The order of the phases and the state buffers belong to the optimizers in
/// OpenMoE.Training; these check shapes and launch. On the CPU accelerator the buffers are host
/// memory, and the reference twins run over them in place instead (<see cref="HostLoops"/>): the
/// same bits, without the CPU accelerator's per-element view checks and the column kernel's
/// strided walk on few threads, which made the kernels 10-16x slower there.
/// </summary>
public sealed unsafe class OptimizerOps : OpLaunchers
{
    /// <summary>The host path's column sums [cols of the widest factored tensor], grown on first use.</summary>
    private double[] _columnScratch = [];

    internal OptimizerOps(Accelerator accelerator, KernelCache cache, LaunchShapes shapes)
        : base(accelerator, cache, shapes)
    {
        HostLoops = accelerator.AcceleratorType == AcceleratorType.CPU;
    }

    /// <summary>
    /// True (the default on the CPU accelerator only): the reference twins run on the host over the
    /// buffers in place. The kernel checks set it false to compare the kernels themselves.
    /// </summary>
    public bool HostLoops { get; set; }

    /// <summary>partials [SumOfSquares.Chunks(length)] = the chunk sums of x² (x [length]).</summary>
    public void ChunkSumsOfSquares(ArrayView<float> x, ArrayView<double> partials, long length)
    {
        Require(x, length, "x"); Require(partials, SumOfSquares.Chunks(length), "partials [chunks]");
        if (OnHost(length))
        {
            SumOfSquares.ChunkReferences(Host(x, length), Host(partials, SumOfSquares.Chunks(length)));
            return;
        }
        Cache.Get<ArrayView<float>, ArrayView<double>, long>(SumOfSquares.ChunkKernel)(Stream, Shapes.Elements(SumOfSquares.Chunks(length)), x, partials, length);
    }

    /// <summary>total [1] = partials [count] added in order.</summary>
    public void Total(ArrayView<double> partials, ArrayView<double> total, int count)
    {
        Require(partials, count, "partials"); Require(total, 1, "total");
        if (OnHost(count))
        {
            double sum = 0;
            foreach (double partial in Host(partials, count))
                sum += partial;
            Host(total, 1)[0] = sum;
            return;
        }
        Cache.Get<ArrayView<double>, ArrayView<double>, int>(SumOfSquares.TotalKernel)(Stream, Shapes.SingleGroup(), partials, total, count);
    }

    /// <summary>g [length] *= factor.</summary>
    public void Scale(ArrayView<float> g, long length, float factor)
    {
        Require(g, length, "g");
        if (OnHost(length))
        {
            GradientScale.Reference(Host(g, length), factor);
            return;
        }
        var (config, span) = ElementLaunch(length);
        Cache.Get<ArrayView<float>, long, float, int>(GradientScale.Kernel)(Stream, config, g, length, factor, span);
    }

    /// <summary>One AdamW step on w, m, v [length] from g [length].</summary>
    public void AdamW(ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, long length, AdamWStep step)
    {
        Require(w, length, "w"); Require(g, length, "g"); Require(m, length, "m"); Require(v, length, "v");
        if (OnHost(length))
        {
            AdamWKernels.Reference(Host(w, length), Host(g, length), Host(m, length), Host(v, length), step);
            return;
        }
        var (config, span) = ElementLaunch(length);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, AdamWStep, int>(AdamWKernels.UpdateKernel)
            (Stream, config, w, g, m, v, length, step, span);
    }

    /// <summary>Adafactor's full second moment v [length]; writes the unscaled update over g.</summary>
    public void AdafactorFull(ArrayView<float> g, ArrayView<float> v, long length, AdafactorStep step)
    {
        Require(g, length, "g"); Require(v, length, "v");
        if (OnHost(length))
        {
            AdafactorKernels.FullReference(Host(g, length), Host(v, length), step);
            return;
        }
        var (config, span) = ElementLaunch(length);
        Cache.Get<ArrayView<float>, ArrayView<float>, long, AdafactorStep, int>(AdafactorKernels.FullKernel)(Stream, config, g, v, length, step, span);
    }

    /// <summary>
    /// Adafactor's factored second moment for g [slices, rows, cols]: vr [slices*rows], vc [slices*cols],
    /// rowMean [slices] (scratch); writes the unscaled update over g.
    /// </summary>
    public void AdafactorFactored(ArrayView<float> g, ArrayView<float> vr, ArrayView<float> vc, ArrayView<double> rowMean,
        int slices, int rows, int cols, AdafactorStep step)
    {
        long length = (long)slices * rows * cols;
        Require(g, length, "g [slices, rows, cols]"); Require(vr, (long)slices * rows, "vr [slices*rows]");
        Require(vc, (long)slices * cols, "vc [slices*cols]"); Require(rowMean, slices, "rowMean [slices]");
        if (OnHost(length))
        {
            if (_columnScratch.Length < cols)
                _columnScratch = new double[cols];
            AdafactorKernels.FactoredReference(Host(g, length), Host(vr, (long)slices * rows), Host(vc, (long)slices * cols), Host(rowMean, slices),
                _columnScratch, slices, rows, cols, step);
            return;
        }
        Cache.Get<ArrayView<float>, ArrayView<float>, int, int, int, AdafactorStep>(AdafactorKernels.RowKernel)
            (Stream, Shapes.Elements((long)slices * rows), g, vr, slices, rows, cols, step);
        Cache.Get<ArrayView<float>, ArrayView<float>, int, int, int, AdafactorStep>(AdafactorKernels.ColumnKernel)
            (Stream, Shapes.Elements((long)slices * cols), g, vc, slices, rows, cols, step);
        Cache.Get<ArrayView<float>, ArrayView<double>, int, int>(AdafactorKernels.RowMeanKernel)
            (Stream, Shapes.Elements(slices), vr, rowMean, slices, rows);
        var (config, span) = ElementLaunch(length);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int, int, int>(AdafactorKernels.FactoredKernel)
            (Stream, config, g, vr, vc, rowMean, slices, rows, cols, span);
    }

    /// <summary>
    /// Adafactor's step on w [length] from the update u [length] (written over the gradient):
    /// the chunk sums of u² and w² into the partials scratch [chunks] each, the step size into
    /// stepSize [1], then w -= step size * u.
    /// </summary>
    public void AdafactorApply(ArrayView<float> w, ArrayView<float> update, ArrayView<double> updatePartials, ArrayView<double> weightPartials,
        ArrayView<double> stepSize, long length, AdafactorStep step)
    {
        int chunks = SumOfSquares.Chunks(length);
        Require(stepSize, 1, "stepSize");
        if (OnHost(length))
        {
            Require(w, length, "w"); Require(update, length, "update");
            AdafactorKernels.ApplyReference(Host(w, length), Host(update, length), step);
            return;
        }
        ChunkSumsOfSquares(update, updatePartials, length);
        ChunkSumsOfSquares(w, weightPartials, length);
        Cache.Get<ArrayView<double>, ArrayView<double>, ArrayView<double>, int, long, AdafactorStep>(AdafactorKernels.StepSizeKernel)
            (Stream, Shapes.SingleGroup(), updatePartials, weightPartials, stepSize, chunks, length, step);
        AdafactorApplyStep(w, update, stepSize, length);
    }

    /// <summary>
    /// Adafactor's last phase with a step size computed elsewhere (a tensor split over ranks, whose RMS
    /// needs every rank's sums): w [length] -= stepSize[0] * update.
    /// </summary>
    public void AdafactorApplyStep(ArrayView<float> w, ArrayView<float> update, ArrayView<double> stepSize, long length)
    {
        Require(w, length, "w"); Require(update, length, "update"); Require(stepSize, 1, "stepSize");
        if (OnHost(length))
        {
            AdafactorKernels.ApplyReference(Host(w, length), Host(update, length), Host(stepSize, 1)[0]);
            return;
        }
        var (config, span) = ElementLaunch(length);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<double>, long, int>(AdafactorKernels.ApplyKernel)
            (Stream, config, w, update, stepSize, length, span);
    }

    /// <summary>Whether this call runs on the host: <see cref="HostLoops"/>, and the tensor fits a span. Waits for queued launches first.</summary>
    private bool OnHost(long length)
    {
        if (!HostLoops || length > int.MaxValue)
            return false;
        Stream.Synchronize();
        return true;
    }

    /// <summary>The first <paramref name="length"/> elements of a CPU accelerator view as a host span.</summary>
    private static Span<T> Host<T>(ArrayView<T> view, long length) where T : unmanaged =>
        length == 0 ? Span<T>.Empty : new Span<T>((void*)view.LoadEffectiveAddressAsPtr(), (int)length);

    private (KernelConfig Config, int Span) ElementLaunch(long length)
    {
        var config = Shapes.Elements(length);
        return (config, Shapes.ElementSpan(length, config));
    }
}
