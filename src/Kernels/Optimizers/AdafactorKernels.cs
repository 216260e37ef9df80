using ILGPU;

namespace OpenMoE.Kernels.Optimizers;

/// <summary>One Adafactor step's scalars (DESIGN §2.5: OpenMoE's T5X settings).</summary>
public struct AdafactorStep
{
    /// <summary>Second-moment decay of the step, 1 - t^-0.8.</summary>
    public double Beta2;
    /// <summary>Added to squared gradients (1e-30).</summary>
    public double Epsilon1;
    /// <summary>Lower bound of the parameter RMS in the step size (1e-3).</summary>
    public double Epsilon2;
    /// <summary>Update clipping threshold on the RMS of the update (1.0).</summary>
    public double ClipThreshold;
    /// <summary>Learning rate of the step.</summary>
    public double LearningRate;
}

/// <summary>
/// Adafactor (Shazeer and Stern, 2018) on one tensor, in the phases a device runs in order:
/// the second moment (full <see cref="FullKernel"/>, or factored per slice of [slices, rows, cols]:
/// <see cref="RowKernel"/>, <see cref="ColumnKernel"/>, <see cref="RowMeanKernel"/>,
/// <see cref="FactoredKernel"/>) writes the unscaled update over the gradient; the sums of squares
/// of update and weight (<see cref="SumOfSquares"/>) give <see cref="StepSizeKernel"/> the RMS
/// terms; <see cref="ApplyKernel"/> subtracts. Every sum runs sequentially in a fixed order, so the
/// CPU accelerator gives the reference's bits. Reference twin: <see cref="Reference"/>.
/// </summary>
public static class AdafactorKernels
{
    /// <summary>v [length] = beta2 v + (1 - beta2)(g² + eps1); g = g / sqrt(v). Grid-stride over spans.</summary>
    public static void FullKernel(ArrayView<float> g, ArrayView<float> v, long length, AdafactorStep step, int span)
    {
        for (long start = ElementLoop.Start(span); start < length; start += ElementLoop.Stride(span))
        {
            long end = start + span < length ? start + span : length;
            for (long j = start; j < end; j++)
            {
                double grad = g[j];
                double vj = step.Beta2 * v[j] + (1 - step.Beta2) * (grad * grad + step.Epsilon1);
                v[j] = (float)vj;
                g[j] = (float)(grad / Math.Sqrt(vj));
            }
        }
    }

    /// <summary>vr [slices*rows] = beta2 vr + (1 - beta2) mean over the row of (g² + eps1). // g [slices, rows, cols]</summary>
    public static void RowKernel(ArrayView<float> g, ArrayView<float> vr, int slices, int rows, int cols, AdafactorStep step)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int index = Grid.GlobalIndex.X; index < slices * rows; index += stride)
        {
            long rowStart = (long)index * cols;
            double rowSum = 0;
            for (int c = 0; c < cols; c++)
            {
                double grad = g[rowStart + c];
                rowSum += grad * grad + step.Epsilon1;
            }
            vr[index] = (float)(step.Beta2 * vr[index] + (1 - step.Beta2) * rowSum / cols);
        }
    }

    /// <summary>vc [slices*cols] = beta2 vc + (1 - beta2) mean over the column of (g² + eps1), rows in order. // g [slices, rows, cols]</summary>
    public static void ColumnKernel(ArrayView<float> g, ArrayView<float> vc, int slices, int rows, int cols, AdafactorStep step)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int index = Grid.GlobalIndex.X; index < slices * cols; index += stride)
        {
            int slice = index / cols;
            int c = index - slice * cols;
            long offset = (long)slice * rows * cols + c;
            double columnSum = 0;
            for (int r = 0; r < rows; r++)
            {
                double grad = g[offset + (long)r * cols];
                columnSum += grad * grad + step.Epsilon1;
            }
            vc[index] = (float)(step.Beta2 * vc[index] + (1 - step.Beta2) * columnSum / rows);
        }
    }

    /// <summary>rowMean [slices] = mean of the slice's (updated) vr, rows in order. // vr [slices*rows]</summary>
    public static void RowMeanKernel(ArrayView<float> vr, ArrayView<double> rowMean, int slices, int rows)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int slice = Grid.GlobalIndex.X; slice < slices; slice += stride)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
                sum += vr[slice * rows + r];
            rowMean[slice] = sum / rows;
        }
    }

    /// <summary>g = g / sqrt(vr / rowMean) / sqrt(vc): the factored update, an outer product of row and column factors.</summary>
    public static void FactoredKernel(ArrayView<float> g, ArrayView<float> vr, ArrayView<float> vc, ArrayView<double> rowMean,
        int slices, int rows, int cols, int span)
    {
        long length = (long)slices * rows * cols;
        for (long start = ElementLoop.Start(span); start < length; start += ElementLoop.Stride(span))
        {
            long end = start + span < length ? start + span : length;
            for (long j = start; j < end; j++)
            {
                long row = j / cols;
                int slice = (int)(row / rows);
                int column = (int)(j - row * cols);
                double rowFactor = 1.0 / Math.Sqrt(vr[row] / rowMean[slice]);
                double columnFactor = 1.0 / Math.Sqrt(vc[slice * cols + column]);
                g[j] = (float)(g[j] * rowFactor * columnFactor);
            }
        }
    }

    /// <summary>
    /// stepSize[0] = lr * max(eps2, RMS(w)) / max(1, RMS(update) / clip), from the chunk sums of
    /// update² and w² (added in order by one thread). // updatePartials, weightPartials [chunks] -> stepSize [1]
    /// </summary>
    public static void StepSizeKernel(ArrayView<double> updatePartials, ArrayView<double> weightPartials, ArrayView<double> stepSize,
        int chunks, long length, AdafactorStep step)
    {
        if (Grid.GlobalIndex.X != 0)
            return;
        double updateSquares = 0, weightSquares = 0;
        for (int c = 0; c < chunks; c++)
        {
            updateSquares += updatePartials[c];
            weightSquares += weightPartials[c];
        }
        stepSize[0] = StepSize(updateSquares, weightSquares, length, step);
    }

    /// <summary>w [length] -= (float)(stepSize[0] * update). Grid-stride over spans.</summary>
    public static void ApplyKernel(ArrayView<float> w, ArrayView<float> update, ArrayView<double> stepSize, long length, int span)
    {
        double scale = stepSize[0];
        for (long start = ElementLoop.Start(span); start < length; start += ElementLoop.Stride(span))
        {
            long end = start + span < length ? start + span : length;
            for (long j = start; j < end; j++)
                w[j] -= (float)(scale * update[j]);
        }
    }

    /// <summary>
    /// The step size from the sums of squares (shared by the kernel and the twin). Comparisons, not
    /// Math.Max, so the kernel compiles alike everywhere; a NaN RMS gives a finite size here, but the
    /// trainer stops on a non-finite gradient norm before any update.
    /// </summary>
    public static double StepSize(double updateSquares, double weightSquares, long length, AdafactorStep step)
    {
        double elements = length > 1 ? length : 1;
        double rmsUpdate = Math.Sqrt(updateSquares / elements);
        double rmsWeight = Math.Sqrt(weightSquares / elements);
        double clip = rmsUpdate / step.ClipThreshold > 1.0 ? rmsUpdate / step.ClipThreshold : 1.0;
        return step.LearningRate * (rmsWeight > step.Epsilon2 ? rmsWeight : step.Epsilon2) / clip;
    }

    /// <summary>
    /// Reference twin: one step on w [slices, rows, cols] from g (overwritten by the update) with the
    /// second moment in v [length] (<paramref name="factored"/> false) or vr [slices*rows] and vc
    /// [slices*cols]; rowMean [slices] and columnScratch [cols] are scratch. The kernels' phases, each
    /// sum in the kernels' order.
    /// </summary>
    public static void Reference(Span<float> w, Span<float> g, Span<float> v, Span<float> vr, Span<float> vc, Span<double> rowMean,
        Span<double> columnScratch, bool factored, int slices, int rows, int cols, AdafactorStep step)
    {
        if (factored)
            FactoredReference(g, vr, vc, rowMean, columnScratch, slices, rows, cols, step);
        else
            FullReference(g, v, step);
        ApplyReference(w, g, step);
    }

    /// <summary>Twin of <see cref="FullKernel"/>.</summary>
    public static void FullReference(Span<float> g, Span<float> v, AdafactorStep step)
    {
        for (int j = 0; j < g.Length; j++)
        {
            double grad = g[j];
            double vj = step.Beta2 * v[j] + (1 - step.Beta2) * (grad * grad + step.Epsilon1);
            v[j] = (float)vj;
            g[j] = (float)(grad / Math.Sqrt(vj));
        }
    }

    /// <summary>
    /// Twin of <see cref="RowKernel"/>, <see cref="ColumnKernel"/>, <see cref="RowMeanKernel"/> and
    /// <see cref="FactoredKernel"/>, walking g in row order (the column sums accumulate row by row in
    /// <paramref name="columnScratch"/> [cols], the same additions in the same order as the column
    /// kernel's, without its strided walk; row and column factors are computed once each).
    /// </summary>
    public static void FactoredReference(Span<float> g, Span<float> vr, Span<float> vc, Span<double> rowMean, Span<double> columnScratch,
        int slices, int rows, int cols, AdafactorStep step)
    {
        var columns = columnScratch[..cols];
        for (int s = 0; s < slices; s++)
        {
            var slice = g.Slice(s * rows * cols, rows * cols);
            columns.Clear();
            for (int r = 0; r < rows; r++)
            {
                var row = slice.Slice(r * cols, cols);
                double rowSum = 0;
                for (int c = 0; c < cols; c++)
                {
                    double grad = row[c];
                    double square = grad * grad + step.Epsilon1;
                    rowSum += square;
                    columns[c] += square;
                }
                int index = s * rows + r;
                vr[index] = (float)(step.Beta2 * vr[index] + (1 - step.Beta2) * rowSum / cols);
            }
            for (int c = 0; c < cols; c++)
                vc[s * cols + c] = (float)(step.Beta2 * vc[s * cols + c] + (1 - step.Beta2) * columns[c] / rows);
            double sum = 0;
            foreach (double value in vr.Slice(s * rows, rows))
                sum += value;
            rowMean[s] = sum / rows;
            for (int c = 0; c < cols; c++)
                columns[c] = 1.0 / Math.Sqrt(vc[s * cols + c]);
            for (int r = 0; r < rows; r++)
            {
                double rowFactor = 1.0 / Math.Sqrt(vr[s * rows + r] / rowMean[s]);
                var row = slice.Slice(r * cols, cols);
                for (int c = 0; c < cols; c++)
                    row[c] = (float)(row[c] * rowFactor * columns[c]);
            }
        }
    }

    /// <summary>Twin of the sums, <see cref="StepSizeKernel"/> and <see cref="ApplyKernel"/>: w -= (float)(stepSize * update).</summary>
    public static void ApplyReference(Span<float> w, ReadOnlySpan<float> update, AdafactorStep step) =>
        ApplyReference(w, update, StepSize(SumOfSquares.Reference(update), SumOfSquares.Reference(w), w.Length, step));

    /// <summary>Twin of <see cref="ApplyKernel"/> with a given step size: w -= (float)(stepSize * update).</summary>
    public static void ApplyReference(Span<float> w, ReadOnlySpan<float> update, double stepSize)
    {
        for (int j = 0; j < w.Length; j++)
            w[j] -= (float)(stepSize * update[j]);
    }
}
