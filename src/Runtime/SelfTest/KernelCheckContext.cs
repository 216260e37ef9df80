using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// What a <see cref="KernelCheck"/> gets: the device, a seeded random source, buffer helpers
/// (freed when the check ends) and <see cref="Compare"/>, which records the worst error.
/// </summary>
public sealed class KernelCheckContext : IDisposable
{
    private readonly List<MemoryBuffer> _buffers = [];
    private readonly Tolerance _tolerance;

    internal KernelCheckContext(ComputeDevice device, Tolerance tolerance, int seed)
    {
        Device = device;
        _tolerance = tolerance;
        Random = new Random(seed);
    }

    /// <summary>The device under test.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Seeded random source for inputs.</summary>
    public Random Random { get; }

    internal int Comparisons { get; private set; }
    internal double WorstAbsError { get; private set; }
    internal double WorstRatio { get; private set; }
    internal string WorstCase { get; private set; } = "";

    /// <summary>Uniform floats in [-scale, scale).</summary>
    public float[] RandomFloats(long count, float scale = 1.0f)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (float)((Random.NextDouble() * 2 - 1) * scale);
        return values;
    }

    /// <summary>Uniform ints in [min, max).</summary>
    public int[] RandomInts(long count, int min, int max)
    {
        var values = new int[count];
        for (long i = 0; i < count; i++)
            values[i] = Random.Next(min, max);
        return values;
    }

    /// <summary>A device copy of <paramref name="data"/>.</summary>
    public ArrayView<T> Upload<T>(T[] data) where T : unmanaged
    {
        var buffer = Device.Upload(data, "self-test input");
        _buffers.Add(buffer);
        return buffer.View;
    }

    /// <summary>
    /// A device copy of <paramref name="data"/> that starts <paramref name="offset"/> elements into
    /// its buffer (checks launchers on views that are not pack-aligned).
    /// </summary>
    public ArrayView<T> UploadAt<T>(T[] data, int offset) where T : unmanaged
    {
        var padded = new T[offset + data.Length];
        data.CopyTo(padded, offset);
        return Upload(padded).SubView(offset, data.Length);
    }

    /// <summary>A zeroed device buffer.</summary>
    public ArrayView<T> Zeros<T>(long count) where T : unmanaged
    {
        var buffer = Device.Allocate<T>(Math.Max(count, 1), "self-test output");
        buffer.MemSetToZero();
        _buffers.Add(buffer);
        return buffer.View.SubView(0, count);
    }

    /// <summary>Waits for the device and copies <paramref name="view"/> back.</summary>
    public T[] Download<T>(ArrayView<T> view) where T : unmanaged
    {
        Device.Synchronize();
        return view.Download();
    }

    /// <summary>Compares a device result with the reference and records the worst error under the op's tolerance.</summary>
    public void Compare(string label, float[] actual, float[] expected) =>
        Compare(label, Array.ConvertAll(actual, x => (double)x), Array.ConvertAll(expected, x => (double)x));

    /// <summary>Compares double results (sums of the optimizers) under the op's tolerance.</summary>
    public void Compare(string label, double[] actual, double[] expected)
    {
        if (actual.Length != expected.Length)
            throw new InvalidOperationException($"{label}: {actual.Length} results for {expected.Length} reference values.");
        Comparisons++;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            double bound = _tolerance.Bound(expected[i]);
            double ratio = double.IsNaN(error) ? double.PositiveInfinity : bound > 0 ? error / bound : error > 0 ? double.PositiveInfinity : 0;
            if (!double.IsNaN(error))
                WorstAbsError = Math.Max(WorstAbsError, error);
            if (ratio > WorstRatio || Comparisons == 1 && i == 0)
            {
                WorstRatio = Math.Max(WorstRatio, ratio);
                WorstCase = $"{label}[{i}]: {actual[i]:G7} vs {expected[i]:G7}";
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var buffer in _buffers)
            buffer.Dispose();
    }
}
