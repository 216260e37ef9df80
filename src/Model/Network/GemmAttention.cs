using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// Full-sequence causal multi-head attention as GEMMs plus a row softmax: per batch
/// row b, the H heads are one strided-batched product (head h of q [B, T, H, hd] starts at h*hd with
/// row stride H*hd). The probabilities P [B, H, T, T] are kept for the backward, so it needs no
/// recompute. Same math as the fused kernels (Attention.Causal / AttentionBackward), but the O(T²)
/// work runs in the GEMM provider (SIMD on the CPU, cuBLAS on CUDA), which the CPU accelerator
/// needs: its per-element kernel cost makes the fused kernels the bottleneck of a training step.
/// Requires kv heads = heads (grouped-query attention uses the fused kernels).
/// </summary>
internal static class GemmAttention
{
    /// <summary>o [B, T, H, hd] = softmax(scale q k^T, causal) v; p [B, H, T, T] receives the probabilities.</summary>
    public static void Forward(in ForwardPass pass, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> p, ArrayView<float> o, int heads, int hd, float scale)
    {
        var gemm = pass.Gemm;
        int batch = pass.Batch, time = pass.Time;
        var x = new Layout(time, heads, hd);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                gemm.Sgemm(x.ScoresOf(false, true), x.Head(q, b, h), x.Head(k, b, h), x.Scores(p, b, h)); // S = q k^T
        pass.Device.Ops.CausalSoftmax(p, batch * heads * time, time, scale);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                gemm.Sgemm(x.HeadOf(false), x.Scores(p, b, h), x.Head(v, b, h), x.Head(o, b, h)); // O = P v
    }

    /// <summary>From dO [B, T, H, hd]: dq, dk, dv [B, T, H, hd] (overwritten). dp [B, H, T, T] is scratch.</summary>
    public static void Backward(in ForwardPass pass, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v,
        ArrayView<float> p, ArrayView<float> dO, ArrayView<float> dp, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        int heads, int hd, float scale)
    {
        var gemm = pass.Gemm;
        int batch = pass.Batch, time = pass.Time;
        var x = new Layout(time, heads, hd);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                gemm.Sgemm(x.ScoresOf(false, true), x.Head(dO, b, h), x.Head(v, b, h), x.Scores(dp, b, h)); // dP = dO v^T
                gemm.Sgemm(x.HeadOf(true), x.Scores(p, b, h), x.Head(dO, b, h), x.Head(dv, b, h)); // dv = P^T dO
            }
        pass.Device.Backward.CausalSoftmaxBackward(p, dp, batch * heads * time, time, scale);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                gemm.Sgemm(x.HeadOf(false), x.Scores(dp, b, h), x.Head(k, b, h), x.Head(dq, b, h)); // dq = dS k
                gemm.Sgemm(x.HeadOf(true), x.Scores(dp, b, h), x.Head(q, b, h), x.Head(dk, b, h)); // dk = dS^T q
            }
    }

    /// <summary>Views of one (b, h): a head of [B, T, H, hd] (row stride H*hd) and a score block of [B, H, T, T].</summary>
    private readonly record struct Layout(int Time, int Heads, int HeadDim)
    {
        private int Row => Heads * HeadDim;

        public ArrayView<float> Head(ArrayView<float> x, int b, int h) =>
            x.SubView((long)b * Time * Row + (long)h * HeadDim, (long)(Time - 1) * Row + HeadDim);

        public ArrayView<float> Scores(ArrayView<float> s, int b, int h) => s.SubView(((long)b * Heads + h) * Time * Time, (long)Time * Time);

        /// <summary>[T, T] = head [T, hd] x head^T.</summary>
        public GemmDesc ScoresOf(bool transA, bool transB) => new(Time, Time, HeadDim, transA, transB, Row, Row, Time);

        /// <summary>head [T, hd] = scores [T, T] (or its transpose) x head [T, hd].</summary>
        public GemmDesc HeadOf(bool transposeScores) => new(Time, HeadDim, Time, transposeScores, false, Time, Row, Row);
    }
}
