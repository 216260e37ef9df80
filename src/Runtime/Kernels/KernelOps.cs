using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Typed launchers for every kernel on one device. Launches are asynchronous on the device's
/// default stream (call <c>ComputeDevice.Synchronize</c> before reading results on the
/// host). Each checks its views' lengths against the sizes first, so a shape mistake is an
/// <see cref="ArgumentException"/> naming the tensor, not a silent out-of-bounds read.
/// All tensors are row-major float32 views; shapes use B batch, T time, N = B*T rows, D hidden,
/// H heads, hd head dim, F ffn width, E experts, C capacity, K top-k, V vocab.
/// </summary>
public sealed class KernelOps : OpLaunchers
{
    private readonly bool _isCpu;
    private CpuAttention? _cpuAttention;

    internal KernelOps(Accelerator accelerator, KernelCache cache, LaunchShapes shapes)
        : base(accelerator, cache, shapes)
    {
        _isCpu = accelerator.AcceleratorType == AcceleratorType.CPU;
        PackedElementwise = _isCpu;
    }

    /// <summary>
    /// Whether the elementwise launchers (embedding, RMSNorm, SwiGLU, OpenMoE activation, residual
    /// add, MoE dispatch and combine, log-softmax) run the packed kernels (<see cref="Pack8"/>) when the sizes and view offsets allow.
    /// Default: on the CPU accelerator only, where an element access costs more than the op;
    /// CUDA keeps the coalesced one-float kernels; turning packing on there is for testing (the
    /// packed row kernels of RMSNorm and log-softmax then run one thread per row). Self-test runs
    /// both on every device. The size-specialised (<c>TDims</c>) launchers of embedding, RMSNorm and the fused
    /// combine-and-norm choose the same way; the other <c>TDims</c> launchers run the one-float kernels.
    /// </summary>
    public bool PackedElementwise { get; set; }

    private bool PackRows(int rowLength) => PackedElementwise && rowLength % Pack8.Width == 0;

    /// <summary>Grid and span of an elementwise launch: over the elements, or over the whole packs (the packed kernels do the tail themselves).</summary>
    private (KernelConfig Config, int Span) ElementLaunch(int count, bool packed)
    {
        long work = packed ? count / Pack8.Width : count;
        var config = Shapes.Elements(work);
        return (config, Shapes.ElementSpan(work, config));
    }

    /// <summary>output [N, D] = table [V, D] rows picked by tokens [N].</summary>
    public void Embedding(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n, int d, int v)
    {
        Require(tokens, n, "tokens [N]"); Require(table, (long)v * d, "table [V, D]"); Require(output, (long)n * d, "output [N, D]");
        Cache.Get<ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>(
                PackRows(d) && PackedViews.Aligned(table, output) ? OpenMoE.Kernels.Embedding.GatherPacked : OpenMoE.Kernels.Embedding.Gather)
            (Stream, Shapes.Rows(n), tokens, table, output, n, d, v);
    }

    /// <summary>Embedding with D and V from <typeparamref name="TDims"/>.</summary>
    public void Embedding<TDims>(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n)
        where TDims : struct, IModelDims
    {
        Require(tokens, n, "tokens [N]"); Require(table, (long)TDims.Vocab * TDims.Hidden, "table [V, D]"); Require(output, (long)n * TDims.Hidden, "output [N, D]");
        Cache.Get<ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(
                PackRows(TDims.Hidden) && PackedViews.Aligned(table, output) ? OpenMoE.Kernels.Embedding.GatherPacked<TDims> : OpenMoE.Kernels.Embedding.Gather<TDims>)
            (Stream, Shapes.Rows(n), tokens, table, output, n);
    }

    /// <summary>y [N, D] = RMSNorm(x [N, D]) * w [D]; y may be x. Also the final norm.</summary>
    public void RmsNorm(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, int d, float eps)
    {
        Require(x, (long)n * d, "x [N, D]"); Require(w, d, "w [D]"); Require(y, (long)n * d, "y [N, D]");
        if (PackRows(d) && PackedViews.Aligned(x, w, y))
            Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(OpenMoE.Kernels.RmsNorm.ForwardPacked)
                (Stream, Shapes.SingleThreadRows(n), x, w, y, n, d, eps);
        else
            Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(OpenMoE.Kernels.RmsNorm.Forward)
                (Stream, Shapes.Rows(n), x, w, y, n, d, eps);
    }

    /// <summary>RMSNorm with D from <typeparamref name="TDims"/>.</summary>
    public void RmsNorm<TDims>(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps)
        where TDims : struct, IModelDims
    {
        Require(x, (long)n * TDims.Hidden, "x [N, D]"); Require(w, TDims.Hidden, "w [D]"); Require(y, (long)n * TDims.Hidden, "y [N, D]");
        if (PackRows(TDims.Hidden) && PackedViews.Aligned(x, w, y))
            Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(OpenMoE.Kernels.RmsNorm.ForwardPacked<TDims>)
                (Stream, Shapes.SingleThreadRows(n), x, w, y, n, eps);
        else
            Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(OpenMoE.Kernels.RmsNorm.Forward<TDims>)
                (Stream, Shapes.Rows(n), x, w, y, n, eps);
    }

    /// <summary>RoPE in place on x [B, T, heads, hd] at positions shape.PositionOffset + t.</summary>
    public void Rope(ArrayView<float> x, RopeShape shape)
    {
        if (shape.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dim, got {shape.HeadDim}.");
        long elements = (long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim;
        Require(x, elements, "x [B, T, heads, hd]");
        Cache.Get<ArrayView<float>, RopeShape>(OpenMoE.Kernels.Rope.Apply)(Stream, Shapes.Elements(elements / 2), x, shape);
    }

    /// <summary>RoPE in place on q [B, T, shape.Heads, hd] and k [B, T, keyHeads, hd] in one launch, each as <see cref="Rope(ArrayView{float}, RopeShape)"/> rotates it.</summary>
    public void RopeQueryKey(ArrayView<float> q, ArrayView<float> k, RopeShape shape, int keyHeads)
    {
        if (shape.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dim, got {shape.HeadDim}.");
        long perHead = (long)shape.Batch * shape.Time * shape.HeadDim;
        Require(q, perHead * shape.Heads, "q [B, T, H, hd]"); Require(k, perHead * keyHeads, "k [B, T, KvH, hd]");
        Cache.Get<ArrayView<float>, ArrayView<float>, RopeShape, int>(OpenMoE.Kernels.Rope.ApplyQueryKey)
            (Stream, Shapes.Elements(perHead * (shape.Heads + keyHeads) / 2), q, k, shape, keyHeads);
    }

    /// <summary>RoPE of queries and keys in one launch with H, KvH and hd from <typeparamref name="TDims"/>.</summary>
    public void RopeQueryKey<TDims>(ArrayView<float> q, ArrayView<float> k, RopeShape shape) where TDims : struct, IModelDims
    {
        shape.Heads = TDims.Heads;
        shape.HeadDim = TDims.HeadDim;
        if (shape.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dim, got {shape.HeadDim}.");
        long perHead = (long)shape.Batch * shape.Time * shape.HeadDim;
        Require(q, perHead * TDims.Heads, "q [B, T, H, hd]"); Require(k, perHead * TDims.KvHeads, "k [B, T, KvH, hd]");
        Cache.Get<ArrayView<float>, ArrayView<float>, RopeShape>(OpenMoE.Kernels.Rope.ApplyQueryKey<TDims>)
            (Stream, Shapes.Elements(perHead * (TDims.Heads + TDims.KvHeads) / 2), q, k, shape);
    }

    /// <summary>RoPE with hd from <typeparamref name="TDims"/>.</summary>
    public void Rope<TDims>(ArrayView<float> x, RopeShape shape) where TDims : struct, IModelDims
    {
        shape.HeadDim = TDims.HeadDim;
        if (shape.HeadDim % 2 != 0)
            throw new ArgumentException($"RoPE needs an even head dim, got {shape.HeadDim}.");
        long elements = (long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim;
        Require(x, elements, "x [B, T, heads, hd]");
        Cache.Get<ArrayView<float>, RopeShape>(OpenMoE.Kernels.Rope.Apply<TDims>)(Stream, Shapes.Elements(elements / 2), x, shape);
    }

    /// <summary>
    /// Causal attention o [B, Tq, H, hd] from q [B, Tq, H, hd] and the cache k, v [B, S, KvH, hd]
    /// (S = shape.CacheLength; positions [0, PastLength + Tq) must be filled). See <see cref="AttentionShape"/>.
    /// On the CPU accelerator this runs the SIMD host implementation (<c>CpuAttention</c>), elsewhere the ILGPU kernel.
    /// </summary>
    public void Attention(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape)
    {
        if (_isCpu)
        {
            CheckAttention(q, k, v, o, shape);
            Stream.Synchronize();
            LazyInitializer.EnsureInitialized(ref _cpuAttention).Run(q, k, v, o, shape);
            return;
        }
        AttentionKernel(q, k, v, o, shape);
    }

    /// <summary>Always the ILGPU kernel <see cref="OpenMoE.Kernels.Attention.Causal"/> (same contract as <see cref="Attention"/>).</summary>
    public void AttentionKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape)
    {
        CheckAttention(q, k, v, o, shape);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(OpenMoE.Kernels.Attention.Causal)
            (Stream, Shapes.Elements((long)shape.Batch * shape.QueryTime * shape.Heads), q, k, v, o, shape);
    }

    /// <summary>Attention with H, KvH and hd from <typeparamref name="TDims"/> (host SIMD on the CPU accelerator, like <see cref="Attention"/>).</summary>
    public void Attention<TDims>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape)
        where TDims : struct, IModelDims
    {
        if (_isCpu)
        {
            shape.Heads = TDims.Heads; shape.KvHeads = TDims.KvHeads; shape.HeadDim = TDims.HeadDim;
            Attention(q, k, v, o, shape);
            return;
        }
        AttentionKernel<TDims>(q, k, v, o, shape);
    }

    /// <summary>Always the ILGPU kernel <see cref="OpenMoE.Kernels.Attention.Causal{TDims}"/>.</summary>
    public void AttentionKernel<TDims>(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape)
        where TDims : struct, IModelDims
    {
        shape.Heads = TDims.Heads; shape.KvHeads = TDims.KvHeads; shape.HeadDim = TDims.HeadDim;
        CheckAttention(q, k, v, o, shape);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(OpenMoE.Kernels.Attention.Causal<TDims>)
            (Stream, Shapes.Elements((long)shape.Batch * shape.QueryTime * shape.Heads), q, k, v, o, shape);
    }

    /// <summary>In place: causal attention scores [R, T] (row r at position r % T) become probabilities (the softmax of GEMM attention, whose kernel sits with its backward in src/Kernels/Backward).</summary>
    public void CausalSoftmax(ArrayView<float> scores, int rows, int t, float scale)
    {
        Require(scores, (long)rows * t, "scores [R, T]");
        Cache.Get<ArrayView<float>, int, int, float>(OpenMoE.Kernels.Backward.CausalSoftmax.Forward)(Stream, Shapes.Rows(rows), scores, rows, t, scale);
    }

    /// <summary>OpenMoE FFN activation: h [N, F] = g[:, :F] * silu(g[:, F:]) * u, with g [N, 2F], u [N, F]; h may be u.</summary>
    public void OpenMoeGatedActivation(ArrayView<float> g, ArrayView<float> u, ArrayView<float> h, int n, int f)
    {
        Require(g, 2L * n * f, "g [N, 2F]"); Require(u, (long)n * f, "u [N, F]"); Require(h, (long)n * f, "h [N, F]");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(PackRows(f) && PackedViews.Aligned(g, u, h)
                ? OpenMoE.Kernels.OpenMoeGatedActivation.ForwardPacked : OpenMoE.Kernels.OpenMoeGatedActivation.Forward)
            (Stream, Shapes.Rows(n), g, u, h, n, f);
    }

    /// <summary>SwiGLU: h [count] = silu(gate) * up; h may be gate or up.</summary>
    public void SwiGlu(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int count)
    {
        Require(gate, count, "gate"); Require(up, count, "up"); Require(h, count, "h");
        bool packed = PackedElementwise && PackedViews.Aligned(gate, up, h);
        var (config, span) = ElementLaunch(count, packed);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(packed ? OpenMoE.Kernels.SwiGlu.ForwardPacked : OpenMoE.Kernels.SwiGlu.Forward)
            (Stream, config, gate, up, h, count, span);
    }

    /// <summary>x [count] += delta [count].</summary>
    public void ResidualAdd(ArrayView<float> x, ArrayView<float> delta, int count)
    {
        Require(x, count, "x"); Require(delta, count, "delta");
        bool packed = PackedElementwise && PackedViews.Aligned(x, delta);
        var (config, span) = ElementLaunch(count, packed);
        Cache.Get<ArrayView<float>, ArrayView<float>, int, int>(packed ? OpenMoE.Kernels.ResidualAdd.ForwardPacked : OpenMoE.Kernels.ResidualAdd.Forward)
            (Stream, config, x, delta, count, span);
    }

    /// <summary>expertInput [E*C, D] row r = x [N, D] row slotTokens[r], zeros where slotTokens[r] = -1.</summary>
    public void MoeDispatch(ArrayView<float> x, ArrayView<int> slotTokens, ArrayView<float> expertInput, int slots, int d)
    {
        Require(slotTokens, slots, "slotTokens [E*C]"); Require(expertInput, (long)slots * d, "expertInput [E*C, D]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(PackRows(d) && PackedViews.Aligned(x, expertInput)
                ? OpenMoE.Kernels.MoeDispatch.GatherPacked : OpenMoE.Kernels.MoeDispatch.Gather)
            (Stream, Shapes.Rows(slots), x, slotTokens, expertInput, slots, d);
    }

    /// <summary>
    /// output [N, D] = sum_j tokenWeights[t, j] * expertOutput[tokenRows[t, j]] over kept choices
    /// (tokenRows [N, K] = e*C + s, or -1 if dropped; tokenWeights [N, K]). Deterministic.
    /// </summary>
    public void MoeCombine(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> output, int n, int k, int d)
    {
        Require(tokenRows, (long)n * k, "tokenRows [N, K]"); Require(tokenWeights, (long)n * k, "tokenWeights [N, K]");
        Require(output, (long)n * d, "output [N, D]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int>(
                PackRows(d) && PackedViews.Aligned(expertOutput, output) ? OpenMoE.Kernels.MoeCombine.CombinePacked : OpenMoE.Kernels.MoeCombine.Combine)
            (Stream, Shapes.Rows(n), expertOutput, tokenRows, tokenWeights, output, n, k, d);
    }

    /// <summary>
    /// The MoE combine, the residual add and the next RMSNorm in one launch: residual [N, D] += the
    /// combine of expertOutput (tokenRows, tokenWeights [N, K], as <see cref="MoeCombine"/>), then normed [N, D]
    /// = RMSNorm(residual) * normWeight [D].
    /// </summary>
    public void MoeCombineResidualNorm(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, int d, float eps)
    {
        Require(tokenRows, (long)n * k, "tokenRows [N, K]"); Require(tokenWeights, (long)n * k, "tokenWeights [N, K]");
        Require(residual, (long)n * d, "residual [N, D]"); Require(normWeight, d, "normWeight [D]"); Require(normed, (long)n * d, "normed [N, D]");
        bool packed = PackRows(d) && PackedViews.Aligned(expertOutput, residual) && PackedViews.Aligned(normWeight, normed);
        // The packed kernel sums each row's squares in one thread, in element order, as the packed RMSNorm does.
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>(
                packed ? OpenMoE.Kernels.MoeCombineResidualNorm.ForwardPacked : OpenMoE.Kernels.MoeCombineResidualNorm.Forward)
            (Stream, packed ? Shapes.SingleThreadRows(n) : Shapes.Rows(n), expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, d, eps);
    }

    /// <summary>MoeCombineResidualNorm with D from <typeparamref name="TDims"/>.</summary>
    public void MoeCombineResidualNorm<TDims>(ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps) where TDims : struct, IModelDims
    {
        int d = TDims.Hidden;
        Require(tokenRows, (long)n * k, "tokenRows [N, K]"); Require(tokenWeights, (long)n * k, "tokenWeights [N, K]");
        Require(residual, (long)n * d, "residual [N, D]"); Require(normWeight, d, "normWeight [D]"); Require(normed, (long)n * d, "normed [N, D]");
        bool packed = PackRows(d) && PackedViews.Aligned(expertOutput, residual) && PackedViews.Aligned(normWeight, normed);
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(
                packed ? OpenMoE.Kernels.MoeCombineResidualNorm.ForwardPacked<TDims> : OpenMoE.Kernels.MoeCombineResidualNorm.Forward<TDims>)
            (Stream, packed ? Shapes.SingleThreadRows(n) : Shapes.Rows(n), expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, eps);
    }

    /// <summary>output [N, V] = log_softmax(logits [N, V]) per row; output may be logits.</summary>
    public void LogSoftmax(ArrayView<float> logits, ArrayView<float> output, int n, int v)
    {
        Require(logits, (long)n * v, "logits [N, V]"); Require(output, (long)n * v, "output [N, V]");
        if (PackRows(v) && PackedViews.Aligned(logits, output))
            Cache.Get<ArrayView<float>, ArrayView<float>, int, int>(OpenMoE.Kernels.LogSoftmax.ForwardPacked)(Stream, Shapes.SingleThreadRows(n), logits, output, n, v);
        else
            Cache.Get<ArrayView<float>, ArrayView<float>, int, int>(OpenMoE.Kernels.LogSoftmax.Forward)(Stream, Shapes.Rows(n), logits, output, n, v);
    }

    /// <summary>
    /// Cross-entropy of logits [N, V] against targets [N] (-1 = not a target): rowLoss [N],
    /// rowLogSumExp [N], and result [2] = (mean over target tokens, number of target tokens).
    /// </summary>
    public void CrossEntropy(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLoss,
        ArrayView<float> rowLogSumExp, ArrayView<float> result, int n, int v)
    {
        Require(logits, (long)n * v, "logits [N, V]"); Require(targets, n, "targets [N]");
        Require(rowLoss, n, "rowLoss [N]"); Require(rowLogSumExp, n, "rowLogSumExp [N]"); Require(result, 2, "result [2]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(OpenMoE.Kernels.CrossEntropy.PerRow)
            (Stream, Shapes.Rows(n), logits, targets, rowLoss, rowLogSumExp, n, v);
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(OpenMoE.Kernels.CrossEntropy.Mean)
            (Stream, Shapes.SingleGroup(), rowLoss, targets, result, n, v);
    }

    /// <summary>Log-softmax with V from <typeparamref name="TDims"/>.</summary>
    public void LogSoftmax<TDims>(ArrayView<float> logits, ArrayView<float> output, int n) where TDims : struct, IModelDims
    {
        Require(logits, (long)n * TDims.Vocab, "logits [N, V]"); Require(output, (long)n * TDims.Vocab, "output [N, V]");
        Cache.Get<ArrayView<float>, ArrayView<float>, int>(OpenMoE.Kernels.LogSoftmax.Forward<TDims>)(Stream, Shapes.Rows(n), logits, output, n);
    }

    /// <summary>Cross-entropy with V from <typeparamref name="TDims"/> (see the runtime-size overload).</summary>
    public void CrossEntropy<TDims>(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLoss,
        ArrayView<float> rowLogSumExp, ArrayView<float> result, int n) where TDims : struct, IModelDims
    {
        int v = TDims.Vocab;
        Require(logits, (long)n * v, "logits [N, V]"); Require(targets, n, "targets [N]");
        Require(rowLoss, n, "rowLoss [N]"); Require(rowLogSumExp, n, "rowLogSumExp [N]"); Require(result, 2, "result [2]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(OpenMoE.Kernels.CrossEntropy.PerRow<TDims>)
            (Stream, Shapes.Rows(n), logits, targets, rowLoss, rowLogSumExp, n);
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(OpenMoE.Kernels.CrossEntropy.Mean)
            (Stream, Shapes.SingleGroup(), rowLoss, targets, result, n, v);
    }

    private static void CheckAttention(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        if (s.KvHeads <= 0 || s.Heads % s.KvHeads != 0)
            throw new ArgumentException($"Attention heads ({s.Heads}) must be a multiple of kv heads ({s.KvHeads}).");
        if (s.PastLength + s.QueryTime > s.CacheLength)
            throw new ArgumentException($"Past length {s.PastLength} + query time {s.QueryTime} exceeds the cache length {s.CacheLength}.");
        long queries = (long)s.Batch * s.QueryTime * s.Heads * s.HeadDim;
        long cache = (long)s.Batch * s.CacheLength * s.KvHeads * s.HeadDim;
        Require(q, queries, "q [B, Tq, H, hd]"); Require(o, queries, "o [B, Tq, H, hd]");
        Require(k, cache, "k [B, S, KvH, hd]"); Require(v, cache, "v [B, S, KvH, hd]");
    }
}
