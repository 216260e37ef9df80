using System.Numerics.Tensors;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Runtime.Threading;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Causal attention for the CPU accelerator, run as host SIMD code directly on the accelerator's
/// memory. ILGPU executes CPU kernels as scalar .NET code with a checked call per view access,
/// which made <see cref="Attention.Causal"/> about 100x slower than SIMD dot products here; every
/// other device runs the ILGPU kernel. Same contract and argument layout as <see cref="Attention.Causal"/>;
/// memory per worker is one score row of PastLength + Tq floats, never T x T. A call allocates
/// nothing once the score rows have reached the longest context seen: the dedicated threads of
/// the process's host worker pool, one cached delegate, the call's arguments in fields (so calls from several threads take turns).
/// </summary>
internal sealed unsafe class CpuAttention
{
    private readonly HostWorkerPool _pool = HostWorkerPool.Shared;
    private readonly object _turn = new();
    private readonly Action<int> _runPart;
    private readonly float[][] _scores;
    private float* _q, _k, _v, _o;
    private AttentionShape _shape;
    private int _parts;

    public CpuAttention()
    {
        _runPart = RunPart;
        _scores = new float[_pool.Threads][];
        for (int i = 0; i < _scores.Length; i++)
            _scores[i] = [];
    }

    /// <summary>o [B, Tq, H, hd] from q and the cache k, v [B, S, KvH, hd] (see <see cref="AttentionShape"/>).</summary>
    public void Run(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        lock (_turn)
            RunAlone(q, k, v, o, s);
    }

    private void RunAlone(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        _q = Pointer(q); _k = Pointer(k); _v = Pointer(v); _o = Pointer(o);
        _shape = s;
        _parts = Math.Min(_pool.Threads, s.Batch * s.Heads);
        int keys = s.PastLength + s.QueryTime;
        for (int i = 0; i < _parts; i++)
            if (_scores[i].Length < keys)
                _scores[i] = new float[keys];
        _pool.Run(_runPart, _parts);
    }

    /// <summary>Heads bh = part, part + parts, ... of every batch row (causal rows cost the same per head).</summary>
    private void RunPart(int part)
    {
        var s = _shape;
        int hd = s.HeadDim;
        int groupSize = s.Heads / s.KvHeads;
        long kvStride = (long)s.KvHeads * hd;
        float[] scores = _scores[part];
        for (int bh = part; bh < s.Batch * s.Heads; bh += _parts)
        {
            int b = bh / s.Heads, h = bh % s.Heads;
            long kvFirst = (long)b * s.CacheLength * kvStride + (long)(h / groupSize) * hd;
            for (int t = 0; t < s.QueryTime; t++)
            {
                long row = ((long)b * s.QueryTime + t) * s.Heads + h;
                var query = new ReadOnlySpan<float>(_q + row * hd, hd);
                var output = new Span<float>(_o + row * hd, hd);
                int keys = s.PastLength + t + 1;
                var rowScores = scores.AsSpan(0, keys);
                for (int j = 0; j < keys; j++)
                    rowScores[j] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(_k + kvFirst + j * kvStride, hd)) * s.Scale;
                float max = TensorPrimitives.Max(rowScores);
                TensorPrimitives.Subtract(rowScores, max, rowScores);
                TensorPrimitives.Exp(rowScores, rowScores);
                float inverse = 1.0f / TensorPrimitives.Sum(rowScores);
                output.Clear();
                for (int j = 0; j < keys; j++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(_v + kvFirst + j * kvStride, hd), rowScores[j] * inverse, output, output);
            }
        }
    }

    /// <summary>Host address of a CPU-accelerator view (its buffer lives in ordinary process memory).</summary>
    private static float* Pointer(ArrayView<float> view) => (float*)view.LoadEffectiveAddressAsPtr();
}
