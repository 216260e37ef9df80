using OpenMoE.Kernels;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// Kernel-vs-reference checks for the core ops (everything in src/Kernels outside routing).
/// Sizes include 1, 7 and 129 so group tails and single-element rows are exercised.
/// </summary>
public static class CoreKernelChecks
{
    /// <summary>All core checks, in forward-pass order.</summary>
    public static IReadOnlyList<KernelCheck> All { get; } =
    [
        new("embedding", Tolerance.Exact, [typeof(Embedding)], CheckEmbedding),
        new("rmsnorm", new Tolerance(1e-5, 1e-4), [typeof(RmsNorm)], CheckRmsNorm),
        new("rope", new Tolerance(5e-4, 1e-4), [typeof(Rope)], CheckRope),
        new("attention", new Tolerance(1e-4, 1e-3), [typeof(Attention)], CheckAttention),
        new("openmoe-gated-activation", new Tolerance(1e-5, 1e-4), [typeof(OpenMoeGatedActivation)], CheckOpenMoeGated),
        new("swiglu", new Tolerance(1e-5, 1e-4), [typeof(SwiGlu)], CheckSwiGlu),
        new("moe-dispatch", Tolerance.Exact, [typeof(MoeDispatch)], CheckDispatch),
        new("moe-combine", new Tolerance(1e-5, 1e-5), [typeof(MoeCombine)], CheckCombine),
        // The combine's error, carried through the add and the norm's scale: the norm's bound, with room for the combine's.
        new("moe-combine-residual-norm", new Tolerance(2e-5, 1e-4), [typeof(MoeCombineResidualNorm)], CheckCombineResidualNorm),
        new("residual-add", Tolerance.Exact, [typeof(ResidualAdd)], CheckResidual),
        new("log-softmax", new Tolerance(1e-4, 1e-5), [typeof(LogSoftmax)], CheckLogSoftmax),
        new("cross-entropy", new Tolerance(1e-4, 1e-5), [typeof(CrossEntropy)], CheckCrossEntropy),
    ];

    /// <summary>Row sizes (n = d), input and output offsets: odd sizes, pack multiples, and an input or an output view that is not pack-aligned.</summary>
    private static readonly (int Size, int Offset, int OutOffset)[] PackSizes = [(1, 0, 0), (7, 0, 0), (129, 0, 0), (8, 0, 0), (136, 0, 0), (64, 3, 0), (64, 0, 5)];

    /// <summary>Element counts, input and output offsets: tails of 0, 1 and 7 after whole packs, and an input or an output view that is not pack-aligned.</summary>
    private static readonly (int Count, int Offset, int OutOffset)[] ElementCounts = [(1, 0, 0), (7, 0, 0), (8, 0, 0), (129 * 129, 0, 0), (1031, 0, 0), (1000, 5, 0), (1000, 0, 3)];

    /// <summary>
    /// Runs an elementwise check with the one-float kernels and with the packed kernels
    /// (<see cref="KernelOps.PackedElementwise"/>), whatever the device's default, then restores it.
    /// </summary>
    private static void BothLayouts(KernelCheckContext c, Action<string> check)
    {
        bool deviceDefault = c.Device.Ops.PackedElementwise;
        try
        {
            foreach (bool packed in new[] { false, true })
            {
                c.Device.Ops.PackedElementwise = packed;
                check(packed ? "packed," : "one-float,");
            }
        }
        finally
        {
            c.Device.Ops.PackedElementwise = deviceDefault;
        }
    }

    private static void CheckEmbedding(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (size, offset, outOffset) in PackSizes)
        {
            int n = size, d = size, v = size + 3;
            var tokens = c.RandomInts(n, -1, v + 1);
            var table = c.RandomFloats((long)v * d);
            var expected = new float[n * d];
            Embedding.Reference(tokens, table, expected, n, d, v);
            var output = c.UploadAt(new float[n * d], outOffset);
            c.Device.Ops.Embedding(c.Upload(tokens), c.UploadAt(table, offset), output, n, d, v);
            c.Compare($"{layout}n=d={size},offsets={offset}/{outOffset}", c.Download(output), expected);
        }
        {
            int n = 7, d = SelfTestDims.Hidden, v = SelfTestDims.Vocab;
            var tokens = c.RandomInts(n, 0, v);
            var table = c.RandomFloats((long)v * d);
            var expected = new float[n * d];
            Embedding.Reference(tokens, table, expected, n, d, v);
            var output = c.Zeros<float>(n * d);
            c.Device.Ops.Embedding<SelfTestDims>(c.Upload(tokens), c.Upload(table), output, n);
            c.Compare("dims", c.Download(output), expected);
        }
    });

    private static void CheckRmsNorm(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        const float eps = 1e-6f;
        foreach (var (n, d, offset, outOffset) in new[] { (1, 1, 0, 0), (7, 7, 0, 0), (129, 129, 0, 0), (3, 1000, 0, 0), (9, 136, 0, 0), (5, 64, 3, 0), (5, 64, 0, 5) })
        {
            var x = c.RandomFloats((long)n * d, 2);
            var w = c.RandomFloats(d);
            var expected = new float[n * d];
            RmsNorm.Reference(x, w, expected, n, d, eps);
            var y = c.UploadAt(new float[n * d], outOffset);
            c.Device.Ops.RmsNorm(c.UploadAt(x, offset), c.Upload(w), y, n, d, eps);
            c.Compare($"{layout}n={n},d={d},offsets={offset}/{outOffset}", c.Download(y), expected);
        }
        {
            int n = 7, d = SelfTestDims.Hidden;
            var x = c.RandomFloats((long)n * d, 2);
            var w = c.RandomFloats(d);
            var expected = new float[n * d];
            RmsNorm.Reference(x, w, expected, n, d, eps);
            var inPlace = c.Upload(x);
            c.Device.Ops.RmsNorm<SelfTestDims>(inPlace, c.Upload(w), inPlace, n, eps);
            c.Compare("dims,in-place", c.Download(inPlace), expected);
        }
    });

    private static void CheckRope(KernelCheckContext c)
    {
        var shapes = new[]
        {
            new RopeShape { Batch = 1, Time = 1, Heads = 1, HeadDim = 2, PositionOffset = 0, Theta = 10000 },
            new RopeShape { Batch = 2, Time = 7, Heads = 3, HeadDim = 8, PositionOffset = 5, Theta = 10000 },
            new RopeShape { Batch = 1, Time = 129, Heads = 2, HeadDim = 6, PositionOffset = 100, Theta = 500000 },
        };
        foreach (var shape in shapes)
        {
            var x = c.RandomFloats((long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim);
            var expected = (float[])x.Clone();
            Rope.Reference(expected, shape);
            var view = c.Upload(x);
            c.Device.Ops.Rope(view, shape);
            c.Compare($"B={shape.Batch},T={shape.Time},heads={shape.Heads},hd={shape.HeadDim},p0={shape.PositionOffset}", c.Download(view), expected);
        }
        // Queries and keys in one launch (MHA, and GQA with fewer key heads).
        foreach (var (shape, keyHeads) in new[] { (shapes[1], 3), (shapes[1], 1), (shapes[2], 1) })
        {
            var q = c.RandomFloats((long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim);
            var k = c.RandomFloats((long)shape.Batch * shape.Time * keyHeads * shape.HeadDim);
            var (expectedQ, expectedK) = ((float[])q.Clone(), (float[])k.Clone());
            Rope.Reference(expectedQ, shape);
            Rope.Reference(expectedK, shape with { Heads = keyHeads });
            var (qView, kView) = (c.Upload(q), c.Upload(k));
            c.Device.Ops.RopeQueryKey(qView, kView, shape, keyHeads);
            string label = $"query-key,B={shape.Batch},T={shape.Time},H={shape.Heads},KvH={keyHeads},hd={shape.HeadDim}";
            c.Compare($"q {label}", c.Download(qView), expectedQ);
            c.Compare($"k {label}", c.Download(kView), expectedK);
        }
        {
            var shape = new RopeShape { Batch = 2, Time = 5, Heads = SelfTestDims.Heads, HeadDim = SelfTestDims.HeadDim, PositionOffset = 2, Theta = 10000 };
            var q = c.RandomFloats((long)shape.Batch * shape.Time * SelfTestDims.Heads * shape.HeadDim);
            var k = c.RandomFloats((long)shape.Batch * shape.Time * SelfTestDims.KvHeads * shape.HeadDim);
            var (expectedQ, expectedK) = ((float[])q.Clone(), (float[])k.Clone());
            Rope.Reference(expectedQ, shape);
            Rope.Reference(expectedK, shape with { Heads = SelfTestDims.KvHeads });
            var (qView, kView) = (c.Upload(q), c.Upload(k));
            c.Device.Ops.RopeQueryKey<SelfTestDims>(qView, kView, shape with { Heads = 0, HeadDim = 0 });
            c.Compare("q query-key,dims", c.Download(qView), expectedQ);
            c.Compare("k query-key,dims", c.Download(kView), expectedK);
        }
        {
            var shape = new RopeShape { Batch = 2, Time = 7, Heads = SelfTestDims.KvHeads, HeadDim = SelfTestDims.HeadDim, PositionOffset = 3, Theta = 10000 };
            var x = c.RandomFloats((long)shape.Batch * shape.Time * shape.Heads * shape.HeadDim);
            var expected = (float[])x.Clone();
            Rope.Reference(expected, shape);
            var view = c.Upload(x);
            c.Device.Ops.Rope<SelfTestDims>(view, shape);
            c.Compare("dims", c.Download(view), expected);
        }
    }

    private static void CheckAttention(KernelCheckContext c)
    {
        var shapes = new[]
        {
            new AttentionShape { Batch = 1, QueryTime = 1, PastLength = 0, CacheLength = 1, Heads = 1, KvHeads = 1, HeadDim = 1, Scale = 1 },
            new AttentionShape { Batch = 2, QueryTime = 7, PastLength = 0, CacheLength = 7, Heads = 4, KvHeads = 2, HeadDim = 8, Scale = 1 / MathF.Sqrt(8) },
            new AttentionShape { Batch = 1, QueryTime = 129, PastLength = 0, CacheLength = 129, Heads = 2, KvHeads = 2, HeadDim = 7, Scale = 1 },
            // KV-cache decoding: 3 new queries after 40 cached positions, cache capacity 50.
            new AttentionShape { Batch = 2, QueryTime = 3, PastLength = 40, CacheLength = 50, Heads = 3, KvHeads = 1, HeadDim = 5, Scale = 0.5f },
        };
        foreach (var shape in shapes)
            CompareAttention(c, shape, generic: false);
        CompareAttention(c, new AttentionShape
        {
            Batch = 2, QueryTime = 7, PastLength = 2, CacheLength = 9, Heads = SelfTestDims.Heads,
            KvHeads = SelfTestDims.KvHeads, HeadDim = SelfTestDims.HeadDim, Scale = 1,
        }, generic: true);
    }

    private static void CompareAttention(KernelCheckContext c, AttentionShape s, bool generic)
    {
        var q = c.RandomFloats((long)s.Batch * s.QueryTime * s.Heads * s.HeadDim, 1.5f);
        var k = c.RandomFloats((long)s.Batch * s.CacheLength * s.KvHeads * s.HeadDim, 1.5f);
        var v = c.RandomFloats((long)s.Batch * s.CacheLength * s.KvHeads * s.HeadDim);
        var expected = new float[q.Length];
        Attention.Reference(q, k, v, expected, s);
        var (qView, kView, vView) = (c.Upload(q), c.Upload(k), c.Upload(v));
        string label = $"B={s.Batch},Tq={s.QueryTime},past={s.PastLength},H={s.Heads},KvH={s.KvHeads},hd={s.HeadDim}";
        var o = c.Zeros<float>(q.Length);
        if (generic)
        {
            c.Device.Ops.Attention<SelfTestDims>(qView, kView, vView, o, s);
            c.Compare($"dims,launcher,{label}", c.Download(o), expected);
            var dimsKernelOut = c.Zeros<float>(q.Length);
            c.Device.Ops.AttentionKernel<SelfTestDims>(qView, kView, vView, dimsKernelOut, s);
            c.Compare($"dims,kernel,{label}", c.Download(dimsKernelOut), expected);
            return;
        }
        // The launcher (host SIMD on the CPU accelerator) and the ILGPU kernel itself, on every device.
        c.Device.Ops.Attention(qView, kView, vView, o, s);
        c.Compare($"launcher,{label}", c.Download(o), expected);
        var kernelOut = c.Zeros<float>(q.Length);
        c.Device.Ops.AttentionKernel(qView, kView, vView, kernelOut, s);
        c.Compare($"kernel,{label}", c.Download(kernelOut), expected);
    }

    private static void CheckOpenMoeGated(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (size, offset, outOffset) in PackSizes)
        {
            int n = size, f = size;
            var g = c.RandomFloats(2L * n * f, 4);
            var u = c.RandomFloats((long)n * f, 2);
            var expected = new float[n * f];
            OpenMoeGatedActivation.Reference(g, u, expected, n, f);
            var h = c.UploadAt(new float[n * f], outOffset);
            c.Device.Ops.OpenMoeGatedActivation(c.UploadAt(g, offset), c.Upload(u), h, n, f);
            c.Compare($"{layout}n=f={size},offsets={offset}/{outOffset}", c.Download(h), expected);
        }
    });

    private static void CheckSwiGlu(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (count, offset, outOffset) in ElementCounts)
        {
            var gate = c.RandomFloats(count, 4);
            var up = c.RandomFloats(count, 2);
            var expected = new float[count];
            SwiGlu.Reference(gate, up, expected, count);
            var h = c.UploadAt(new float[count], outOffset);
            c.Device.Ops.SwiGlu(c.Upload(gate), c.UploadAt(up, offset), h, count);
            c.Compare($"{layout}count={count},offsets={offset}/{outOffset}", c.Download(h), expected);
        }
    });

    private static void CheckDispatch(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (size, offset, outOffset) in PackSizes)
        {
            int n = size, d = size, slots = 3 * size + 1;
            var x = c.RandomFloats((long)n * d);
            var slotTokens = c.RandomInts(slots, -1, n);
            var expected = new float[(long)slots * d];
            MoeDispatch.Reference(x, slotTokens, expected, slots, d);
            var output = c.UploadAt(new float[slots * d], outOffset);
            c.Device.Ops.MoeDispatch(c.UploadAt(x, offset), c.Upload(slotTokens), output, slots, d);
            c.Compare($"{layout}n=d={size},slots={slots},offsets={offset}/{outOffset}", c.Download(output), expected);
        }
    });

    private static void CheckCombine(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (n, k, d, offset, outOffset) in new[] { (1, 1, 1, 0, 0), (7, 2, 7, 0, 0), (129, 2, 129, 0, 0), (5, 4, 3, 0, 0), (9, 2, 136, 0, 0), (6, 2, 64, 3, 0), (6, 2, 64, 0, 5) })
        {
            int rows = 2 * n + 1;
            var expertOutput = c.RandomFloats((long)rows * d, 3);
            var tokenRows = c.RandomInts((long)n * k, -1, rows);
            var weights = c.RandomFloats((long)n * k);
            var expected = new float[(long)n * d];
            MoeCombine.Reference(expertOutput, tokenRows, weights, expected, n, k, d);
            var output = c.UploadAt(new float[n * d], outOffset);
            c.Device.Ops.MoeCombine(c.UploadAt(expertOutput, offset), c.Upload(tokenRows), c.Upload(weights), output, n, k, d);
            c.Compare($"{layout}n={n},k={k},d={d},offsets={offset}/{outOffset}", c.Download(output), expected);
        }
    });

    private static void CheckCombineResidualNorm(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        const float eps = 1e-6f;
        // The last case runs the <SelfTestDims> launcher (D = SelfTestDims.Hidden).
        var cases = new[] { (1, 1, 1, 0, 0), (7, 2, 7, 0, 0), (129, 2, 129, 0, 0), (5, 4, 3, 0, 0), (9, 2, 136, 0, 0), (6, 2, 64, 3, 0), (6, 2, 64, 0, 5),
            (7, 2, SelfTestDims.Hidden, 0, 0) };
        for (int i = 0; i < cases.Length; i++)
        {
            var (n, k, d, offset, outOffset) = cases[i];
            bool dims = i == cases.Length - 1;
            int rows = 2 * n + 1;
            var expertOutput = c.RandomFloats((long)rows * d, 3);
            // -1 included: a token may lose some or all of its choices.
            var tokenRows = c.RandomInts((long)n * k, -1, rows);
            var weights = c.RandomFloats((long)n * k);
            var residual = c.RandomFloats((long)n * d, 2);
            var normWeight = c.RandomFloats(d);
            var expectedResidual = (float[])residual.Clone();
            var expectedNormed = new float[(long)n * d];
            MoeCombineResidualNorm.Reference(expertOutput, tokenRows, weights, expectedResidual, normWeight, expectedNormed, n, k, d, eps);
            var residualView = c.UploadAt(residual, outOffset);
            var normed = c.UploadAt(new float[n * d], outOffset);
            var (expertView, rowsView, weightsView, normWeightView) = (c.UploadAt(expertOutput, offset), c.Upload(tokenRows), c.Upload(weights), c.Upload(normWeight));
            if (dims)
                c.Device.Ops.MoeCombineResidualNorm<SelfTestDims>(expertView, rowsView, weightsView, residualView, normWeightView, normed, n, k, eps);
            else
                c.Device.Ops.MoeCombineResidualNorm(expertView, rowsView, weightsView, residualView, normWeightView, normed, n, k, d, eps);
            string label = $"{layout}{(dims ? "dims," : "")}n={n},k={k},d={d},offsets={offset}/{outOffset}";
            c.Compare($"residual {label}", c.Download(residualView), expectedResidual);
            c.Compare($"normed {label}", c.Download(normed), expectedNormed);
        }
    });

    private static void CheckResidual(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (count, offset, outOffset) in ElementCounts)
        {
            var x = c.RandomFloats(count);
            var delta = c.RandomFloats(count);
            var expected = (float[])x.Clone();
            ResidualAdd.Reference(expected, delta, count);
            var view = c.UploadAt(x, outOffset);
            c.Device.Ops.ResidualAdd(view, c.UploadAt(delta, offset), count);
            c.Compare($"{layout}count={count},offsets={offset}/{outOffset}", c.Download(view), expected);
        }
    });

    private static readonly (int N, int V)[] SoftmaxSizes = [(1, 1), (7, 7), (129, 129), (3, 5003)];

    private static void CheckLogSoftmax(KernelCheckContext c) => BothLayouts(c, layout =>
    {
        foreach (var (n, v, offset, outOffset) in SoftmaxSizes.Select(s => (s.N, s.V, 0, 0)).Concat([(4, 1000, 0, 0), (3, 64, 3, 0), (3, 64, 0, 5)]))
        {
            var logits = c.RandomFloats((long)n * v, 8);
            var expected = new float[(long)n * v];
            LogSoftmax.Reference(logits, expected, n, v);
            var output = c.UploadAt(new float[n * v], outOffset);
            c.Device.Ops.LogSoftmax(c.UploadAt(logits, offset), output, n, v);
            c.Compare($"{layout}n={n},v={v},offsets={offset}/{outOffset}", c.Download(output), expected);
        }
        {
            int n = 5, v = SelfTestDims.Vocab;
            var logits = c.RandomFloats((long)n * v, 8);
            var expected = new float[(long)n * v];
            LogSoftmax.Reference(logits, expected, n, v);
            var inPlace = c.Upload(logits);
            c.Device.Ops.LogSoftmax<SelfTestDims>(inPlace, inPlace, n);
            c.Compare("dims,in-place", c.Download(inPlace), expected);
        }
    });

    private static void CheckCrossEntropy(KernelCheckContext c)
    {
        foreach (var (n, v) in SoftmaxSizes.Append((9, SelfTestDims.Vocab)))
        {
            bool generic = v == SelfTestDims.Vocab;
            var logits = c.RandomFloats((long)n * v, 8);
            // -1 marks non-target tokens; n = 1 draws a real target so the mean is non-trivial.
            var targets = c.RandomInts(n, n == 1 ? 0 : -1, v);
            var expectedLoss = new float[n];
            var expectedLse = new float[n];
            var (mean, count) = CrossEntropy.Reference(logits, targets, expectedLoss, expectedLse, n, v);
            var rowLoss = c.Zeros<float>(n);
            var rowLse = c.Zeros<float>(n);
            var result = c.Zeros<float>(2);
            if (generic)
                c.Device.Ops.CrossEntropy<SelfTestDims>(c.Upload(logits), c.Upload(targets), rowLoss, rowLse, result, n);
            else
                c.Device.Ops.CrossEntropy(c.Upload(logits), c.Upload(targets), rowLoss, rowLse, result, n, v);
            string label = $"{(generic ? "dims," : "")}n={n},v={v}";
            c.Compare($"rowLoss {label}", c.Download(rowLoss), expectedLoss);
            c.Compare($"rowLogSumExp {label}", c.Download(rowLse), expectedLse);
            c.Compare($"mean,count {label}", c.Download(result), [(float)mean, count]);
        }
    }
}
