using ILGPU;

namespace OpenMoE.Kernels.Optimizers;

/// <summary>
/// Sums of squares in one fixed order that the device and the host twin share: sequential, in
/// double, within chunks of <see cref="ChunkLength"/> elements; the chunk sums are then added in
/// chunk order. The chunks run in parallel on a device, yet the result has the same bits on every
/// device and every run (gradient clipping's global norm, Adafactor's RMS of update and weight).
/// </summary>
public static class SumOfSquares
{
    /// <summary>Elements per chunk (a chunk never spans two tensors).</summary>
    public const int ChunkLength = 4096;

    /// <summary>Chunks of a tensor of <paramref name="length"/> elements.</summary>
    public static int Chunks(long length) => checked((int)((length + ChunkLength - 1) / ChunkLength));

    /// <summary>partials [Chunks(length)] = each chunk's sum of x², in element order. // x [length]</summary>
    public static void ChunkKernel(ArrayView<float> x, ArrayView<double> partials, long length)
    {
        int chunks = (int)((length + ChunkLength - 1) / ChunkLength);
        int stride = Grid.DimX * Group.DimX;
        for (int c = Grid.GlobalIndex.X; c < chunks; c += stride)
        {
            long start = (long)c * ChunkLength;
            long end = start + ChunkLength < length ? start + ChunkLength : length;
            double sum = 0;
            for (long i = start; i < end; i++)
            {
                double v = x[i];
                sum += v * v;
            }
            partials[c] = sum;
        }
    }

    /// <summary>total[0] = partials[0] + partials[1] + ... in order, by one thread. // partials [count] -> total [1]</summary>
    public static void TotalKernel(ArrayView<double> partials, ArrayView<double> total, int count)
    {
        if (Grid.GlobalIndex.X != 0)
            return;
        double sum = 0;
        for (int c = 0; c < count; c++)
            sum += partials[c];
        total[0] = sum;
    }

    /// <summary>Reference twin: the sum of x² in the order of <see cref="ChunkKernel"/> then <see cref="TotalKernel"/>.</summary>
    public static double Reference(ReadOnlySpan<float> x) => AddChunkSums(0, x);

    /// <summary><paramref name="total"/> plus each chunk sum of x², one by one (how the total of several tensors' chunks accumulates).</summary>
    public static double AddChunkSums(double total, ReadOnlySpan<float> x)
    {
        for (int start = 0; start < x.Length; start += ChunkLength)
            total += ChunkReference(x.Slice(start, Math.Min(ChunkLength, x.Length - start)));
        return total;
    }

    /// <summary>Twin of <see cref="ChunkKernel"/>: partials [Chunks(x.Length)] = each chunk's sum of x².</summary>
    public static void ChunkReferences(ReadOnlySpan<float> x, Span<double> partials)
    {
        for (int c = 0; c < partials.Length; c++)
            partials[c] = ChunkReference(x.Slice(c * ChunkLength, Math.Min(ChunkLength, x.Length - c * ChunkLength)));
    }

    /// <summary>One chunk's sum (the twin of one thread of <see cref="ChunkKernel"/>).</summary>
    public static double ChunkReference(ReadOnlySpan<float> chunk)
    {
        double sum = 0;
        foreach (double v in chunk)
            sum += v * v;
        return sum;
    }
}
