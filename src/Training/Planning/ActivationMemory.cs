using OpenMoE.Model.Specs;

namespace OpenMoE.Training.Planning;

/// <summary>
/// The activation memory of one forward (and in training its backward), counted from what the
/// layers in src/Model/Network allocate, per token N = B*T (D hidden, qd = H*hd, kd = kv*hd, F and
/// G the FFN width and its gate width, 2F for OpenMoE's gated FFN and F for SwiGLU, E experts, K top-k):
/// <list type="bullet">
/// <item>training keeps, per layer: the two norm inputs and outputs (4D), q, k, v and the attention
/// output (2qd + 2kd), the [B, H, T, T] probabilities of GEMM attention (multi-head only), each FFN's
/// gate, up and activation (G + 2F); an MoE layer also the router logits and loss gradient (2E),
/// K dispatched rows in and out (2KD) and the experts' activations for K rows per token; OpenMoE's
/// extra FFN its norm pair and activations. Backward scratch is shared by the layers: the largest
/// FFN's gradients, attention's gradients, dh and dx.</item>
/// <item>inference keeps one layer's buffers (every layer reuses them; an activation runs in place)
/// and an expert's scratch for at most its capacity of rows.</item>
/// <item>both: the embedding output, the final norm and fp32 logits for every token, and each MoE
/// layer's routing state (probabilities, choices, weights, slots: E + 6K + 2 per token).</item>
/// </list>
/// Router values and logits are fp32 in both precisions; everything else scales with the precision.
/// </summary>
public static class ActivationMemory
{
    /// <summary>Bytes of activations and scratch for <paramref name="request"/>.</summary>
    public static long Bytes(ModelConfig c, PlanRequest request)
    {
        long n = (long)request.Batch * request.Seq;
        int eb = request.Precision.BytesPerElement();
        var (stored, fp32) = request.Training ? Training(c, request.Seq) : Inference(c, request.Batch, request.Seq);
        return Saturating(n, stored * eb + fp32 * 4);
    }

    /// <summary>Per token: (values in the run's precision, fp32 values) of a training step.</summary>
    private static (long Stored, long Fp32) Training(ModelConfig c, int seq)
    {
        long d = c.Hidden, qd = (long)c.Heads * c.HeadDim, kd = (long)c.KvHeads * c.HeadDim, k = c.TopK, e = c.Experts;
        bool gemmAttention = c.KvHeads == c.Heads;
        long attention = 4 * d + 2 * qd + 2 * kd + (gemmAttention ? (long)c.Heads * seq : 0);
        long dense = Ffn(c, c.Ffn, keep: true);
        long extra = Extra(c) ? 2 * d + Ffn(c, c.SharedExpertFfn, keep: true) : 0;
        long moe = 2 * k * d + k * Ffn(c, c.ExpertFfn, keep: true) + Shared(c, keep: true) + extra;
        int moeLayers = c.MoeLayers.Count, denseLayers = c.Layers - moeLayers;
        long stored = c.Layers * attention + denseLayers * dense + moeLayers * moe;
        long fp32 = moeLayers * (2 * e + RoutingState(c));

        long largestFfn = Math.Max(Math.Max(denseLayers > 0 ? dense : 0, Math.Max(extra - 2 * d, Shared(c, keep: true))),
            moeLayers > 0 ? k * Ffn(c, c.ExpertFfn, keep: true) : 0);
        long backward = 2 * d + 2 * qd + 2 * kd + (gemmAttention ? (long)c.Heads * seq : 2L * c.Heads) + largestFfn + d + k;
        stored += backward + 3 * d;     // + the embedding output and the final norm's input and output
        fp32 += e + c.Vocab + 8;        // + router logit gradients, the logits (their gradient in place), tokens and per-row losses
        return (stored, fp32);
    }

    /// <summary>Per token: (values in the run's precision, fp32 values) of an inference forward.</summary>
    private static (long Stored, long Fp32) Inference(ModelConfig c, int batch, int seq)
    {
        long d = c.Hidden, qd = (long)c.Heads * c.HeadDim, kd = (long)c.KvHeads * c.HeadDim, k = c.TopK, e = c.Experts;
        // The CPU accelerator's GEMM attention (within its 64 MiB score budget) keeps [B, H, T, T] probabilities.
        bool gemmAttention = c.KvHeads == c.Heads && (long)batch * c.Heads * seq * seq * 4 <= 64L << 20;
        long stored = 2 * d + 2 * qd + 2 * kd + (gemmAttention ? (long)c.Heads * seq : 0);
        int moeLayers = c.MoeLayers.Count;
        if (moeLayers < c.Layers)
            stored += Ffn(c, c.Ffn, keep: false);
        if (Extra(c))
            stored += d + Ffn(c, c.SharedExpertFfn, keep: false);
        long fp32 = 0;
        if (moeLayers > 0)
        {
            // Each expert's scratch holds its rows: at most its capacity (or every token).
            double rowsPerToken = Math.Min(1.0, Math.Max(c.EvalCapacityFactor, c.TrainCapacityFactor) * k / e);
            stored += 2 * k * d + (long)Math.Ceiling(rowsPerToken * Ffn(c, c.ExpertFfn, keep: false)) + Shared(c, keep: false) + d;
            fp32 += e + moeLayers * RoutingState(c);
        }
        stored += 2 * d;               // the embedding output and the final norm
        fp32 += c.Vocab + 1;           // the logits, and the tokens
        return (stored, fp32);
    }

    /// <summary>Gate, up and (kept) activation of one FFN of <paramref name="width"/>.</summary>
    private static long Ffn(ModelConfig c, int width, bool keep) =>
        (c.FfnKind == FfnKind.OpenMoEGated ? 2L * width : width) + width + (keep ? width : 0);

    private static long Shared(ModelConfig c, bool keep) =>
        c.SharedExpertKind == SharedExpertKind.ParallelShared ? Ffn(c, c.SharedExperts * c.SharedExpertFfn, keep) : 0;

    /// <summary>OpenMoE's sequential extra FFN after each MoE block.</summary>
    private static bool Extra(ModelConfig c) => c.SharedExpertKind == SharedExpertKind.SequentialExtraFfn;

    /// <summary>Probabilities, choices, choice probabilities, weights, slots, dispatch order and rows, visit order and z.</summary>
    private static long RoutingState(ModelConfig c) => c.Experts + 6L * c.TopK + 2;

    private static long Saturating(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;
}
