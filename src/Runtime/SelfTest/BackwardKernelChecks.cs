using OpenMoE.Runtime.Kernels;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Kernels.Backward;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// Kernel-vs-reference checks for the backward kernels (src/Kernels/Backward), so that
/// <c>openmoe selftest</c> covers training on a new device too. They run the launchers training runs
/// (<see cref="BackwardOps"/>).
/// </summary>
public static class BackwardKernelChecks
{
    /// <summary>All backward checks.</summary>
    public static IReadOnlyList<KernelCheck> All { get; } =
    [
        new("rmsnorm-backward", new Tolerance(1e-5, 1e-4), [typeof(RmsNormBackward)], CheckRmsNorm),
        new("rope-backward", new Tolerance(1e-5, 1e-4), [typeof(RopeBackward)], CheckRope),
        new("attention-backward", new Tolerance(1e-5, 1e-4), [typeof(AttentionBackward)], CheckAttention),
        new("causal-softmax", new Tolerance(1e-6, 1e-5), [typeof(CausalSoftmax)], CheckCausalSoftmax),
        new("activation-backward", new Tolerance(1e-6, 1e-5), [typeof(ActivationBackward)], CheckActivations),
        new("embedding-backward", new Tolerance(1e-6, 1e-5), [typeof(EmbeddingBackward)], CheckEmbedding),
        new("moe-backward", new Tolerance(1e-6, 1e-5), [typeof(MoeBackward)], CheckMoe),
        new("cross-entropy-backward", new Tolerance(1e-6, 1e-5), [typeof(CrossEntropyBackward)], CheckCrossEntropy),
    ];

    private static BackwardOps Backward(KernelCheckContext c) => c.Device.Backward;

    private static void CheckRmsNorm(KernelCheckContext c)
    {
        foreach (var (n, d) in new[] { (1, 1), (7, 7), (3, 129) })
        {
            var x = c.RandomFloats((long)n * d); var w = c.RandomFloats(d); var dy = c.RandomFloats((long)n * d);
            float[] dx = new float[n * d], dw = new float[d];
            RmsNormBackward.Reference(x, w, dy, dx, dw, n, d, 1e-6f);
            var (bx, bdy, bdx, bdw, scale) = (c.Upload(x), c.Upload(dy), c.Zeros<float>(n * d), c.Zeros<float>(d), c.Zeros<float>(n));
            Backward(c).RmsNorm(bx, c.Upload(w), bdy, bdx, bdw, scale, n, d, 1e-6f);
            c.Compare($"dx n={n},d={d}", c.Download(bdx), dx);
            c.Compare($"dw n={n},d={d}", c.Download(bdw), dw);
        }
    }

    private static void CheckRope(KernelCheckContext c)
    {
        var shape = new RopeShape { Batch = 2, Time = 7, Heads = 3, HeadDim = 8, Theta = 10000f };
        var x = c.RandomFloats(2 * 7 * 3 * 8);
        var expected = (float[])x.Clone();
        RopeBackward.Reference(expected, shape);
        var view = c.Upload(x);
        Backward(c).Rope(view, shape);
        c.Compare("b=2,t=7,h=3,hd=8", c.Download(view), expected);
    }

    private static void CheckAttention(KernelCheckContext c)
    {
        foreach (int kvHeads in new[] { 4, 2 })
        {
            var s = new AttentionShape { Batch = 2, QueryTime = 9, CacheLength = 9, Heads = 4, KvHeads = kvHeads, HeadDim = 8, Scale = 0.5f };
            int q = 2 * 9 * 4 * 8, kv = 2 * 9 * kvHeads * 8, rows = 2 * 9 * 4;
            var (qs, ks, vs, dO) = (c.RandomFloats(q), c.RandomFloats(kv), c.RandomFloats(kv), c.RandomFloats(q));
            var o = new float[q];
            Attention.Reference(qs, ks, vs, o, s);
            float[] dq = new float[q], dk = new float[kv], dv = new float[kv];
            AttentionBackward.Reference(qs, ks, vs, dO, dq, dk, dv, s);
            var (bq, bk, bv, bo, bdo) = (c.Upload(qs), c.Upload(ks), c.Upload(vs), c.Upload(o), c.Upload(dO));
            var (bdq, bdk, bdv, lse, delta) = (c.Zeros<float>(q), c.Zeros<float>(kv), c.Zeros<float>(kv), c.Zeros<float>(rows), c.Zeros<float>(rows));
            Backward(c).Attention(bq, bk, bv, bo, bdo, bdq, bdk, bdv, lse, delta, s);
            c.Compare($"dq kv={kvHeads}", c.Download(bdq), dq);
            c.Compare($"dk kv={kvHeads}", c.Download(bdk), dk);
            c.Compare($"dv kv={kvHeads}", c.Download(bdv), dv);
        }
    }

    private static void CheckCausalSoftmax(KernelCheckContext c)
    {
        const int rows = 14, t = 7;
        var (scores, grad) = (c.RandomFloats(rows * t, 3), c.RandomFloats(rows * t));
        var p = (float[])scores.Clone();
        CausalSoftmax.ForwardReference(p, rows, t, 0.7f);
        var ds = (float[])grad.Clone();
        CausalSoftmax.BackwardReference(p, ds, rows, t, 0.7f);
        var (bs, bg) = (c.Upload(scores), c.Upload(grad));
        c.Device.Ops.CausalSoftmax(bs, rows, t, 0.7f);
        Backward(c).CausalSoftmaxBackward(bs, bg, rows, t, 0.7f);
        c.Compare("p", c.Download(bs), p);
        c.Compare("dS", c.Download(bg), ds);
    }

    private static void CheckActivations(KernelCheckContext c)
    {
        const int n = 7, f = 9;
        var (g, u, dh) = (c.RandomFloats(2 * n * f, 3), c.RandomFloats(n * f), c.RandomFloats(n * f));
        float[] dg = new float[2 * n * f], du = new float[n * f];
        ActivationBackward.OpenMoeGatedReference(g, u, dh, dg, du, n, f);
        var (bdg, bdu) = (c.Zeros<float>(2 * n * f), c.Zeros<float>(n * f));
        Backward(c).OpenMoeGated(c.Upload(g), c.Upload(u), c.Upload(dh), bdg, bdu, n, f);
        c.Compare("openmoe dg", c.Download(bdg), dg);
        c.Compare("openmoe du", c.Download(bdu), du);
        var a = c.RandomFloats(n * f, 3);
        float[] da = new float[n * f], db = new float[n * f];
        ActivationBackward.SwiGluReference(a, u, dh, da, db, n * f);
        var (bda, bdb) = (c.Zeros<float>(n * f), c.Zeros<float>(n * f));
        Backward(c).SwiGlu(c.Upload(a), c.Upload(u), c.Upload(dh), bda, bdb, n * f);
        c.Compare("swiglu da", c.Download(bda), da);
        c.Compare("swiglu db", c.Download(bdb), db);
    }

    private static void CheckEmbedding(KernelCheckContext c)
    {
        const int n = 29, d = 7, v = 11;
        var tokens = c.RandomInts(n, 0, v);
        var (dx, table) = (c.RandomFloats(n * d), c.RandomFloats(v * d));
        var expected = (float[])table.Clone();
        EmbeddingBackward.Reference(tokens, dx, expected, d);
        int[] counts = new int[v], ids = new int[v], starts = new int[v + 1], positions = new int[n];
        int distinct = EmbeddingBackward.GroupByToken(tokens, counts, ids, starts, positions);
        var bt = c.Upload(table);
        Backward(c).Embedding(c.Upload(ids), c.Upload(starts), c.Upload(positions), c.Upload(dx), bt, distinct, n, d, v);
        c.Compare("repeated tokens", c.Download(bt), expected);
    }

    private static void CheckMoe(KernelCheckContext c)
    {
        const int n = 6, k = 2, d = 5, e = 4, rowsOut = 9;
        int[] rows = [0, 1, 2, -1, 3, 4, -1, -1, 5, 6, 7, 8];
        var (dOut, expertOut, weights) = (c.RandomFloats(n * d), c.RandomFloats(rowsOut * d), c.RandomFloats(n * k));
        float[] dExpert = new float[rowsOut * d], dWeights = new float[n * k];
        MoeBackward.CombineReference(dOut, expertOut, rows, weights, dExpert, dWeights, n, k, d);
        var (bde, bdw, brows) = (c.Zeros<float>(rowsOut * d), c.Zeros<float>(n * k), c.Upload(rows));
        Backward(c).MoeCombine(c.Upload(dOut), c.Upload(expertOut), brows, c.Upload(weights), bde, bdw, n, k, d);
        c.Compare("combine dExpertOut", c.Download(bde), dExpert);
        c.Compare("combine dWeights", c.Download(bdw), dWeights);

        var (dIn, dx) = (c.RandomFloats(rowsOut * d), c.RandomFloats(n * d));
        var expectedDx = (float[])dx.Clone();
        MoeBackward.DispatchReference(dIn, rows, expectedDx, n, k, d);
        var bdx = c.Upload(dx);
        Backward(c).MoeDispatch(c.Upload(dIn), brows, bdx, n, k, d);
        c.Compare("dispatch dx", c.Download(bdx), expectedDx);

        var logits = c.RandomFloats(n * e, 2);
        var p = new float[n * e];
        for (int t = 0; t < n; t++)
        {
            double sum = 0;
            for (int x = 0; x < e; x++) sum += Math.Exp(logits[t * e + x]);
            for (int x = 0; x < e; x++) p[t * e + x] = (float)(Math.Exp(logits[t * e + x]) / sum);
        }
        int[] choices = [0, 1, 2, 3, 1, 0, 3, 2, 2, 0, 1, 3];
        var sigmoidScores = Array.ConvertAll(logits, l => (float)(1.0 / (1.0 + Math.Exp(-l))));
        foreach (bool sigmoid in new[] { false, true })
            foreach (bool renormalized in new[] { false, true })
            {
                var scores = sigmoid ? sigmoidScores : p;
                var expected = new float[n * e];
                MoeBackward.RouterSoftmaxReference(scores, choices, dWeights, expected, n, e, k, renormalized, sigmoid);
                var bdl = c.Zeros<float>(n * e);
                Backward(c).RouterSoftmax(c.Upload(scores), c.Upload(choices), c.Upload(dWeights), bdl, n, e, k, renormalized, sigmoid);
                c.Compare($"router scores sigmoid={sigmoid} renormalized={renormalized}", c.Download(bdl), expected);
            }
    }

    private static void CheckCrossEntropy(KernelCheckContext c)
    {
        const int n = 5, v = 129;
        var logits = c.RandomFloats(n * v, 3);
        int[] targets = [3, -1, 0, 128, -1];
        var expected = new float[n * v];
        CrossEntropyBackward.Reference(logits, targets, expected, n, v, 1f / 3);
        var (bl, bt, loss, lse, result) = (c.Upload(logits), c.Upload(targets), c.Zeros<float>(n), c.Zeros<float>(n), c.Zeros<float>(2));
        c.Device.Ops.CrossEntropy(bl, bt, loss, lse, result, n, v);
        Backward(c).CrossEntropy(bl, bt, lse, bl, n, v, 1f / 3);
        c.Compare("masked rows", c.Download(bl), expected);
    }
}
