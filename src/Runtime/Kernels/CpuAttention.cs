using System.Buffers;
using System.Numerics.Tensors;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Causal attention for the CPU accelerator, run as host SIMD code directly on the accelerator's
/// memory. ILGPU executes CPU kernels as scalar .NET code with a view lookup per element, which
/// made <see cref="Attention.Causal"/> about 100x slower than SIMD dot products here; every other
/// device runs the ILGPU kernel. Same contract and argument layout as <see cref="Attention.Causal"/>;
/// memory per worker is one score row of PastLength + Tq floats, never T x T.
/// </summary>
internal static class CpuAttention
{
    public static unsafe void Run(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        float* qBase = Pointer(q);
        float* kBase = Pointer(k);
        float* vBase = Pointer(v);
        float* oBase = Pointer(o);
        int hd = s.HeadDim;
        int groupSize = s.Heads / s.KvHeads;
        long kvStride = (long)s.KvHeads * hd;
        Parallel.For(0, s.Batch * s.Heads, bh =>
        {
            int b = bh / s.Heads, h = bh % s.Heads;
            float[] scores = ArrayPool<float>.Shared.Rent(s.PastLength + s.QueryTime);
            try
            {
                long kvFirst = (long)b * s.CacheLength * kvStride + (long)(h / groupSize) * hd;
                for (int t = 0; t < s.QueryTime; t++)
                {
                    long row = ((long)b * s.QueryTime + t) * s.Heads + h;
                    var query = new ReadOnlySpan<float>(qBase + row * hd, hd);
                    var output = new Span<float>(oBase + row * hd, hd);
                    int keys = s.PastLength + t + 1;
                    var rowScores = scores.AsSpan(0, keys);
                    for (int j = 0; j < keys; j++)
                        rowScores[j] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(kBase + kvFirst + j * kvStride, hd)) * s.Scale;
                    float max = TensorPrimitives.Max(rowScores);
                    TensorPrimitives.Subtract(rowScores, max, rowScores);
                    TensorPrimitives.Exp(rowScores, rowScores);
                    float inverse = 1.0f / TensorPrimitives.Sum(rowScores);
                    output.Clear();
                    for (int j = 0; j < keys; j++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vBase + kvFirst + j * kvStride, hd), rowScores[j] * inverse, output, output);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        });
    }

    /// <summary>Host address of a CPU-accelerator view (its buffer lives in ordinary process memory).</summary>
    private static unsafe float* Pointer(ArrayView<float> view) => (float*)view.LoadEffectiveAddressAsPtr();
}
