using OpenMoE.Runtime.SelfTest;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Kernels.Backward;
using OpenMoE.Model.SelfTest;
using OpenMoE.Runtime.Kernels;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Ptx;
using OpenMoE.Tests.Kernels;

namespace OpenMoE.Tests.Training;

/// <summary>Every backward kernel against its plain-C# reference twin on random inputs, with the tolerance each declares.</summary>
public abstract class BackwardKernelTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    private ComputeDevice Device => fixture.Device;
    private BackwardOps Kernels => Device.Backward;

    [Fact]
    public void RmsNorm_backward_matches_reference()
    {
        const int n = 7, d = 48;
        var x = Random(n * d, 1); var w = Random(d, 2); var dy = Random(n * d, 3); var dx0 = Random(n * d, 4); var dw0 = Random(d, 5);
        var (dxRef, dwRef) = ((float[])dx0.Clone(), (float[])dw0.Clone());
        RmsNormBackward.Reference(x, w, dy, dxRef, dwRef, n, d, 1e-6f);
        using var bx = Device.Upload(x, "x"); using var bw = Device.Upload(w, "w"); using var bdy = Device.Upload(dy, "dy");
        using var bdx = Device.Upload(dx0, "dx"); using var bdw = Device.Upload(dw0, "dw"); using var scale = Device.Allocate<float>(n, "scale");
        Kernels.RmsNorm(bx.View, bw.View, bdy.View, bdx.View, bdw.View, scale.View, n, d, 1e-6f);
        Device.Synchronize();
        AssertClose(dxRef, bdx.GetAsArray1D(), "rmsnorm-backward", "dx");
        AssertClose(dwRef, bdw.GetAsArray1D(), "rmsnorm-backward", "dw");
    }

    [Fact]
    public void Rope_backward_matches_reference_and_inverts_rope()
    {
        var shape = new RopeShape { Batch = 2, Time = 5, Heads = 3, HeadDim = 8, Theta = 10000f };
        var x = Random(2 * 5 * 3 * 8, 6);
        var expected = (float[])x.Clone();
        RopeBackward.Reference(expected, shape);
        using var buffer = Device.Upload(x, "x");
        Kernels.Rope(buffer.View, shape);
        Device.Synchronize();
        AssertClose(expected, buffer.GetAsArray1D(), "rope-backward", "rope backward");
        // A rotation's transpose is its inverse.
        Rope.Reference(expected, shape);
        AssertClose(x, expected, new Tolerance(1e-5, 1e-4), "rope(rope backward(x))"); // two host rotations' rounding, not an op's
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 2)]
    public void Attention_backward_matches_reference(int heads, int kvHeads)
    {
        var s = new AttentionShape { Batch = 2, QueryTime = 9, PastLength = 0, CacheLength = 9, Heads = heads, KvHeads = kvHeads, HeadDim = 8, Scale = 0.5f };
        int q = 2 * 9 * heads * 8, kv = 2 * 9 * kvHeads * 8;
        var qs = Random(q, 7); var ks = Random(kv, 8); var vs = Random(kv, 9); var dO = Random(q, 10);
        var o = new float[q];
        Attention.Reference(qs, ks, vs, o, s);
        float[] dq = new float[q], dk = new float[kv], dv = new float[kv];
        AttentionBackward.Reference(qs, ks, vs, dO, dq, dk, dv, s);
        using var bq = Device.Upload(qs, "q"); using var bk = Device.Upload(ks, "k"); using var bv = Device.Upload(vs, "v");
        using var bo = Device.Upload(o, "o"); using var bdo = Device.Upload(dO, "dO");
        using var bdq = Device.Allocate<float>(q, "dq"); using var bdk = Device.Allocate<float>(kv, "dk"); using var bdv = Device.Allocate<float>(kv, "dv");
        using var lse = Device.Allocate<float>(2 * 9 * heads, "lse"); using var delta = Device.Allocate<float>(2 * 9 * heads, "delta");
        Kernels.Attention(bq.View, bk.View, bv.View, bo.View, bdo.View, bdq.View, bdk.View, bdv.View, lse.View, delta.View, s);
        Device.Synchronize();
        AssertClose(dq, bdq.GetAsArray1D(), "attention-backward", "dq");
        AssertClose(dk, bdk.GetAsArray1D(), "attention-backward", "dk");
        AssertClose(dv, bdv.GetAsArray1D(), "attention-backward", "dv");
    }

    [Fact]
    public void Activation_backwards_match_reference()
    {
        const int n = 5, f = 12;
        var g = Random(2 * n * f, 11); var u = Random(n * f, 12); var dh = Random(n * f, 13);
        float[] dg = new float[2 * n * f], du = new float[n * f];
        ActivationBackward.OpenMoeGatedReference(g, u, dh, dg, du, n, f);
        using var bg = Device.Upload(g, "g"); using var bu = Device.Upload(u, "u"); using var bdh = Device.Upload(dh, "dh");
        using var bdg = Device.Allocate<float>(2 * n * f, "dg"); using var bdu = Device.Allocate<float>(n * f, "du");
        Kernels.OpenMoeGated(bg.View, bu.View, bdh.View, bdg.View, bdu.View, n, f);
        Device.Synchronize();
        AssertClose(dg, bdg.GetAsArray1D(), "activation-backward", "dg");
        AssertClose(du, bdu.GetAsArray1D(), "activation-backward", "du");

        var a = Random(n * f, 14);
        float[] da = new float[n * f], db = new float[n * f];
        ActivationBackward.SwiGluReference(a, u, dh, da, db, n * f);
        using var ba = Device.Upload(a, "a");
        Kernels.SwiGlu(ba.View, bu.View, bdh.View, bdg.View, bdu.View, n * f);
        Device.Synchronize();
        AssertClose(da, bdg.GetAsArray1D()[..(n * f)], "activation-backward", "da");
        AssertClose(db, bdu.GetAsArray1D(), "activation-backward", "db");
    }

    [Fact]
    public void Embedding_backward_matches_reference_with_repeated_tokens()
    {
        const int n = 20, d = 6, v = 9;
        var random = new Random(15);
        var tokens = Enumerable.Range(0, n).Select(_ => random.Next(v)).ToArray();
        var dx = Random(n * d, 16); var table = Random(v * d, 17);
        var expected = (float[])table.Clone();
        EmbeddingBackward.Reference(tokens, dx, expected, d);
        int[] counts = new int[v], ids = new int[v], starts = new int[v + 1], positions = new int[n];
        int distinct = EmbeddingBackward.GroupByToken(tokens, counts, ids, starts, positions);
        Assert.Equal(tokens.Distinct().Count(), distinct);
        using var bids = Device.Upload(ids, "ids"); using var bstarts = Device.Upload(starts, "starts"); using var bpos = Device.Upload(positions, "pos");
        using var bdx = Device.Upload(dx, "dx"); using var btable = Device.Upload(table, "table");
        Kernels.Embedding(bids.View, bstarts.View, bpos.View, bdx.View, btable.View, distinct, n, d, v);
        Device.Synchronize();
        AssertClose(expected, btable.GetAsArray1D(), "embedding-backward", "dTable");
    }

    [Fact]
    public void Moe_combine_dispatch_and_router_backwards_match_reference()
    {
        const int n = 6, k = 2, d = 5, e = 4;
        int[] rows = [0, 1, 2, -1, 3, 4, -1, -1, 5, 6, 7, 8]; // -1: dropped
        var dOut = Random(n * d, 18); var expertOut = Random(9 * d, 19); var weights = Random(n * k, 20);
        float[] dExpert = new float[9 * d], dWeights = new float[n * k];
        MoeBackward.CombineReference(dOut, expertOut, rows, weights, dExpert, dWeights, n, k, d);
        using var bdOut = Device.Upload(dOut, "dOut"); using var bOut = Device.Upload(expertOut, "out"); using var brows = Device.Upload(rows, "rows");
        using var bw = Device.Upload(weights, "w"); using var bdExpert = Device.Allocate<float>(9 * d, "dExpert"); using var bdw = Device.Allocate<float>(n * k, "dw");
        bdExpert.MemSetToZero();
        Kernels.MoeCombine(bdOut.View, bOut.View, brows.View, bw.View, bdExpert.View, bdw.View, n, k, d);
        Device.Synchronize();
        AssertClose(dExpert, bdExpert.GetAsArray1D(), "moe-backward", "dExpertOut");
        AssertClose(dWeights, bdw.GetAsArray1D(), "moe-backward", "dWeights");
        Assert.Equal(0f, bdw.GetAsArray1D()[3]);

        var dIn = Random(9 * d, 21); var dx = Random(n * d, 22);
        var expectedDx = (float[])dx.Clone();
        MoeBackward.DispatchReference(dIn, rows, expectedDx, n, k, d);
        using var bdIn = Device.Upload(dIn, "dIn"); using var bdx = Device.Upload(dx, "dx");
        Kernels.MoeDispatch(bdIn.View, brows.View, bdx.View, n, k, d);
        Device.Synchronize();
        AssertClose(expectedDx, bdx.GetAsArray1D(), "moe-backward", "dx");

        var probabilities = Softmax(Random(n * e, 23), n, e);
        int[] choices = [0, 1, 2, 3, 1, 0, 3, 2, 2, 0, 1, 3];
        foreach (bool renormalized in new[] { false, true })
        {
            var expected = new float[n * e];
            MoeBackward.RouterSoftmaxReference(probabilities, choices, dWeights, expected, n, e, k, renormalized);
            using var bp = Device.Upload(probabilities, "p"); using var bc = Device.Upload(choices, "choices");
            using var bdl = Device.Allocate<float>(n * e, "dLogits");
            Kernels.RouterSoftmax(bp.View, bc.View, bdw.View, bdl.View, n, e, k, renormalized);
            Device.Synchronize();
            AssertClose(expected, bdl.GetAsArray1D(), "moe-backward", $"dLogits (renormalized {renormalized})");
        }
    }

    [Fact]
    public void Cross_entropy_backward_matches_reference_and_ignores_non_targets()
    {
        const int n = 5, v = 33;
        var logits = Random(n * v, 24);
        int[] targets = [3, -1, 0, 32, -1];
        var expected = new float[n * v];
        CrossEntropyBackward.Reference(logits, targets, expected, n, v, 1f / 3);
        using var bl = Device.Upload(logits, "logits"); using var bt = Device.Upload(targets, "targets");
        using var loss = Device.Allocate<float>(n, "loss"); using var lse = Device.Allocate<float>(n, "lse"); using var result = Device.Allocate<float>(2, "result");
        Device.Ops.CrossEntropy(bl.View, bt.View, loss.View, lse.View, result.View, n, v);
        Kernels.CrossEntropy(bl.View, bt.View, lse.View, bl.View, n, v, 1f / 3);
        Device.Synchronize();
        var actual = bl.GetAsArray1D();
        AssertClose(expected, actual, "cross-entropy-backward", "dLogits");
        Assert.All(actual.Skip(v).Take(v), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Causal_softmax_and_its_backward_match_reference()
    {
        const int rows = 12, t = 6;
        var scores = Random(rows * t, 25); var grad = Random(rows * t, 26);
        var p = (float[])scores.Clone();
        CausalSoftmax.ForwardReference(p, rows, t, 0.7f);
        var ds = (float[])grad.Clone();
        CausalSoftmax.BackwardReference(p, ds, rows, t, 0.7f);
        using var bs = Device.Upload(scores, "scores"); using var bg = Device.Upload(grad, "grad");
        Device.Ops.CausalSoftmax(bs.View, rows, t, 0.7f);
        Kernels.CausalSoftmaxBackward(bs.View, bg.View, rows, t, 0.7f);
        Device.Synchronize();
        AssertClose(p, bs.GetAsArray1D(), "causal-softmax", "p");
        AssertClose(ds, bg.GetAsArray1D(), "causal-softmax", "dS");
        Assert.Equal(0f, bs.GetAsArray1D()[1]); // row 0 sees only position 0
    }

    internal static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static float[] Softmax(float[] logits, int n, int e)
    {
        var p = new float[logits.Length];
        for (int t = 0; t < n; t++)
        {
            double sum = 0;
            for (int x = 0; x < e; x++) sum += Math.Exp(logits[t * e + x]);
            for (int x = 0; x < e; x++) p[t * e + x] = (float)(Math.Exp(logits[t * e + x]) / sum);
        }
        return p;
    }

    /// <summary>Within the tolerance the op declares in the kernel catalog (the one place it is written).</summary>
    internal static void AssertClose(float[] expected, float[] actual, string check, string what) =>
        AssertClose(expected, actual, SelfTestCatalog.ToleranceOf(check), what);

    private static void AssertClose(float[] expected, float[] actual, Tolerance tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = tolerance.Bound(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"{what}[{i}]: {actual[i]} vs reference {expected[i]} (bound {bound:G3})");
        }
    }
}

/// <summary>On ILGPU's CPU accelerator (always).</summary>
public sealed class CpuBackwardKernelTests(CpuDeviceFixture fixture) : BackwardKernelTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
/// <summary>On the first CUDA GPU (OPENMOE_CUDA_TESTS=1 builds).</summary>
public sealed class CudaBackwardKernelTests(CudaDeviceFixture fixture) : BackwardKernelTests<CudaDeviceFixture>(fixture);
#endif

/// <summary>Every backward kernel compiles to PTX for sm_80 without a GPU.</summary>
public class BackwardPtxTests
{
    public static TheoryData<string> KernelNames() =>
    [
        nameof(RmsNormBackward.Input), nameof(RmsNormBackward.Weight), nameof(RopeBackward.Apply), nameof(AttentionBackward.Query),
        nameof(AttentionBackward.KeyValue), nameof(ActivationBackward.OpenMoeGated), nameof(ActivationBackward.SwiGlu),
        nameof(EmbeddingBackward.Scatter), nameof(MoeBackward.Combine), nameof(MoeBackward.Dispatch), nameof(MoeBackward.RouterSoftmax),
        nameof(CrossEntropyBackward.Logits), nameof(CausalSoftmax.Forward), nameof(CausalSoftmax.Backward),
    ];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Backward_kernel_compiles_to_ptx(string name)
    {
        var method = typeof(RmsNormBackward).Assembly.GetTypes()
            .Where(t => t.Namespace == "OpenMoE.Kernels.Backward")
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
            .Single(m => m.Name == name && m.GetParameters().Any(p => p.ParameterType.Name.StartsWith("ArrayView", StringComparison.Ordinal)));
        string ptx = PtxCompiler.Compile(method, PtxTarget.Sm80);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".extern .func", ptx);
    }
}
