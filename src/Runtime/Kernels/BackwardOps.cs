using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Kernels.Backward;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Typed launchers for the backward kernels (src/Kernels/Backward) on one device, through the
/// device's one <see cref="KernelCache"/> and <see cref="LaunchShapes"/>. Launches are asynchronous on the default stream, like <see cref="KernelOps"/>; each checks its
/// views' lengths first. Shapes: N rows, D hidden, V vocab, E experts, K top-k, F ffn width.
/// </summary>
public sealed class BackwardOps : OpLaunchers
{
    internal BackwardOps(Accelerator accelerator, KernelCache cache, LaunchShapes shapes)
        : base(accelerator, cache, shapes)
    {
    }

    /// <summary>dx [N, D] += RMSNorm backward of dy [N, D] at x [N, D]; dw [D] += weight gradient. rowScale [N] is scratch.</summary>
    public void RmsNorm(ArrayView<float> x, ArrayView<float> w, ArrayView<float> dy, ArrayView<float> dx, ArrayView<float> dw,
        ArrayView<float> rowScale, int n, int d, float eps)
    {
        Require(x, (long)n * d, "x [N, D]"); Require(dy, (long)n * d, "dy [N, D]"); Require(dx, (long)n * d, "dx [N, D]");
        Require(w, d, "w [D]"); Require(dw, d, "dw [D]"); Require(rowScale, n, "rowScale [N]");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(RmsNormBackward.Input)(Stream, Shapes.Rows(n), x, w, dy, dx, rowScale, n, d, eps);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(RmsNormBackward.Weight)(Stream, Shapes.Elements(d), x, dy, rowScale, dw, n, d);
    }

    /// <summary>In place: dy [B, T, heads, hd] of a RoPE'd tensor becomes the gradient before RoPE.</summary>
    public void Rope(ArrayView<float> dy, RopeShape shape)
    {
        long elements = (long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim;
        Require(dy, elements, "dy [B, T, heads, hd]");
        Cache.Get<ArrayView<float>, RopeShape>(RopeBackward.Apply)(Stream, Shapes.Elements(elements / 2), dy, shape);
    }

    /// <summary>
    /// Full-sequence causal attention backward (see <see cref="AttentionBackward"/>): dq [B, T, H, hd],
    /// dk, dv [B, T, KvH, hd] overwritten; lse, delta [B, T, H] are scratch.
    /// </summary>
    public void Attention(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> dO,
        ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv, ArrayView<float> lse, ArrayView<float> delta, AttentionShape s)
    {
        long queryRows = (long)s.Batch * s.QueryTime * s.Heads, keyRows = (long)s.Batch * s.QueryTime * s.KvHeads;
        Require(q, queryRows * s.HeadDim, "q"); Require(o, queryRows * s.HeadDim, "o"); Require(dO, queryRows * s.HeadDim, "dO");
        Require(dq, queryRows * s.HeadDim, "dq"); Require(k, keyRows * s.HeadDim, "k"); Require(v, keyRows * s.HeadDim, "v");
        Require(dk, keyRows * s.HeadDim, "dk"); Require(dv, keyRows * s.HeadDim, "dv"); Require(lse, queryRows, "lse"); Require(delta, queryRows, "delta");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionBackward.Query)(Stream, Shapes.Elements(queryRows), q, k, v, o, dO, dq, lse, delta, s);
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionBackward.KeyValue)(Stream, Shapes.Elements(keyRows), q, k, v, dO, lse, delta, dk, dv, s);
    }

    /// <summary>OpenMoE gated activation backward: g [N, 2F], u [N, F], dh [N, F] -> dg [N, 2F], du [N, F].</summary>
    public void OpenMoeGated(ArrayView<float> g, ArrayView<float> u, ArrayView<float> dh, ArrayView<float> dg, ArrayView<float> du, int n, int f)
    {
        Require(g, 2L * n * f, "g [N, 2F]"); Require(dg, 2L * n * f, "dg [N, 2F]");
        Require(u, (long)n * f, "u [N, F]"); Require(dh, (long)n * f, "dh [N, F]"); Require(du, (long)n * f, "du [N, F]");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ActivationBackward.OpenMoeGated)(Stream, Shapes.Rows(n), g, u, dh, dg, du, n, f);
    }

    /// <summary>SwiGLU backward: a, b, dh [count] -> da, db [count].</summary>
    public void SwiGlu(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dh, ArrayView<float> da, ArrayView<float> db, int count)
    {
        Require(a, count, "a"); Require(b, count, "b"); Require(dh, count, "dh"); Require(da, count, "da"); Require(db, count, "db");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ActivationBackward.SwiGlu)(Stream, Shapes.Elements(count), a, b, dh, da, db, count);
    }

    /// <summary>dTable [V, D] += dx [N, D] scattered by token id; ids/starts/positions from <see cref="EmbeddingBackward.GroupByToken"/>.</summary>
    public void Embedding(ArrayView<int> ids, ArrayView<int> starts, ArrayView<int> positions, ArrayView<float> dx, ArrayView<float> dTable,
        int distinct, int n, int d, int v)
    {
        Require(ids, distinct, "ids [U]"); Require(starts, distinct + 1L, "starts [U + 1]"); Require(positions, n, "positions [N]");
        Require(dx, (long)n * d, "dx [N, D]"); Require(dTable, (long)v * d, "dTable [V, D]");
        Cache.Get<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingBackward.Scatter)(Stream, Shapes.Rows(distinct), ids, starts, positions, dx, dTable, distinct, d);
    }

    /// <summary>Combine backward: dExpertOut [rows, D] (kept rows written), dWeights [N, K] (0 if dropped).</summary>
    public void MoeCombine(ArrayView<float> dOut, ArrayView<float> expertOut, ArrayView<int> tokenRows, ArrayView<float> weights,
        ArrayView<float> dExpertOut, ArrayView<float> dWeights, int n, int k, int d)
    {
        Require(dOut, (long)n * d, "dOut [N, D]"); Require(tokenRows, (long)n * k, "tokenRows [N, K]");
        Require(weights, (long)n * k, "weights [N, K]"); Require(dWeights, (long)n * k, "dWeights [N, K]");
        Cache.Get<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MoeBackward.Combine)(Stream, Shapes.Rows(n), dOut, expertOut, tokenRows, weights, dExpertOut, dWeights, n, k, d);
    }

    /// <summary>Dispatch backward: dx [N, D] += rows of dExpertIn [rows, D] per kept choice.</summary>
    public void MoeDispatch(ArrayView<float> dExpertIn, ArrayView<int> tokenRows, ArrayView<float> dx, int n, int k, int d)
    {
        Require(tokenRows, (long)n * k, "tokenRows [N, K]"); Require(dx, (long)n * d, "dx [N, D]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int>(MoeBackward.Dispatch)(Stream, Shapes.Rows(n), dExpertIn, tokenRows, dx, n, k, d);
    }

    /// <summary>Router score backward (softmax, or sigmoid scores): dLogits [N, E] (overwritten) from dWeights [N, K].</summary>
    public void RouterSoftmax(ArrayView<float> probabilities, ArrayView<int> choices, ArrayView<float> dWeights, ArrayView<float> dLogits,
        int n, int e, int k, bool renormalized, bool sigmoid = false)
    {
        Require(probabilities, (long)n * e, "probabilities [N, E]"); Require(dLogits, (long)n * e, "dLogits [N, E]");
        Require(choices, (long)n * k, "choices [N, K]"); Require(dWeights, (long)n * k, "dWeights [N, K]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int, int>(MoeBackward.RouterSoftmax)(Stream, Shapes.Elements(n), probabilities, choices, dWeights, dLogits, n, e, k, renormalized ? 1 : 0, sigmoid ? 1 : 0);
    }

    /// <summary>Cross-entropy backward: dLogits [N, V] = (softmax - onehot) * scale on target rows; may alias logits.</summary>
    public void CrossEntropy(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> rowLogSumExp, ArrayView<float> dLogits, int n, int v, float scale)
    {
        Require(logits, (long)n * v, "logits [N, V]"); Require(dLogits, (long)n * v, "dLogits [N, V]");
        Require(targets, n, "targets [N]"); Require(rowLogSumExp, n, "rowLogSumExp [N]");
        Cache.Get<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, float>(CrossEntropyBackward.Logits)(Stream, Shapes.Rows(n), logits, targets, rowLogSumExp, dLogits, n, v, scale);
    }

    /// <summary>In place: dP [R, T] becomes dS = scale * p * (dP - rowsum(p * dP)).</summary>
    public void CausalSoftmaxBackward(ArrayView<float> p, ArrayView<float> grad, int rows, int t, float scale)
    {
        Require(p, (long)rows * t, "p [R, T]"); Require(grad, (long)rows * t, "dP [R, T]");
        Cache.Get<ArrayView<float>, ArrayView<float>, int, int, float>(OpenMoE.Kernels.Backward.CausalSoftmax.Backward)(Stream, Shapes.Rows(rows), p, grad, rows, t, scale);
    }
}
