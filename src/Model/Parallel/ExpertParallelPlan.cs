using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Parallel;

/// <summary>
/// A paper plan of one training step under E-way expert parallelism, from the spec alone: what each
/// rank sends through the all-to-alls and the router all-gather of <see cref="ExpertExchange"/>, the
/// gradient all-reduce of the replicated tensors, and the memory its weights, gradients and AdamW moments
/// take. Routing is assumed uniform (each rank's kept rows go to every rank alike, (P-1)/P of them to
/// other ranks) and every expert fills its capacity; activations are not counted.
/// </summary>
/// <param name="Spec">The model.</param>
/// <param name="ExpertParallel">P, ranks sharing the experts.</param>
/// <param name="TokensPerRank">n = B*T tokens on each rank per step.</param>
/// <param name="CapacityFactor">cf of the capacity rule (OpenMoE trains with 1.25).</param>
/// <param name="ActivationBytes">Bytes per exchanged activation value (2: bf16).</param>
public sealed record ExpertParallelPlan(ModelSpecInfo Spec, int ExpertParallel, int TokensPerRank, double CapacityFactor, int ActivationBytes)
{
    /// <summary>Parameters held by every rank (everything but the routed experts).</summary>
    public long ReplicatedParameters => Spec.Parameters.Where(p => !ExpertTensors.IsRoutedExpert(p)).Sum(p => p.Elements);

    /// <summary>Routed-expert parameters of the whole model.</summary>
    public long ExpertParameters => Spec.Parameters.Where(ExpertTensors.IsRoutedExpert).Sum(p => p.Elements);

    /// <summary>Parameters on one rank: the replicated ones plus 1/P of the experts.</summary>
    public long ParametersPerRank => ReplicatedParameters + ExpertParameters / ExpertParallel;

    /// <summary>
    /// Kept assignments of one rank per MoE layer: its n*K choices, capped by its share of the capacity
    /// (the T5X rule keeps at most cf * N of a group's N tokens over all experts; ColossalAI's k * cf * N).
    /// </summary>
    public long KeptRowsPerRank
    {
        get
        {
            long demand = (long)TokensPerRank * Spec.Config.TopK;
            double capacity = Spec.Config.CapacityRule switch
            {
                CapacityRule.Dropless => demand,
                CapacityRule.Cai => Spec.Config.TopK * CapacityFactor * TokensPerRank,
                _ => CapacityFactor * TokensPerRank,
            };
            return Math.Min(demand, (long)Math.Floor(capacity));
        }
    }

    /// <summary>Bytes a rank sends to other ranks in one all-to-all of one MoE layer. // rows * (P-1)/P * D * bytes</summary>
    public long AllToAllBytes => KeptRowsPerRank * (ExpertParallel - 1) / ExpertParallel * Spec.Config.Hidden * ActivationBytes;

    /// <summary>Bytes a rank sends in one MoE layer's router-logit all-gather (fp32 logits to P-1 ranks).</summary>
    public long LogitGatherBytes => (long)TokensPerRank * Spec.Config.Experts * sizeof(float) * (ExpertParallel - 1);

    /// <summary>
    /// Bytes a rank sends per training step through the exchanges: every MoE layer runs 4 all-to-alls
    /// (dispatch and return forward, their mirrors backward) and one logit all-gather.
    /// </summary>
    public long ExchangeBytesPerStep => Spec.Config.MoeLayers.Count * (4 * AllToAllBytes + LogitGatherBytes);

    /// <summary>Bytes a rank sends in the ring all-reduce of the replicated tensors' fp32 gradients: 2 (P-1)/P of them.</summary>
    public long GradientAllReduceBytes => 2 * (ExpertParallel - 1) * ReplicatedParameters * sizeof(float) / ExpertParallel;

    /// <summary>Bytes of one rank's bf16 weights (inference).</summary>
    public long InferenceWeightBytes => ParametersPerRank * 2;

    /// <summary>Bytes of one rank's training state: fp32 weights, gradients and AdamW's two moments (16 bytes a parameter).</summary>
    public long TrainingStateBytes => ParametersPerRank * 16;

    /// <summary>Seconds to send <paramref name="bytes"/> at <paramref name="bytesPerSecond"/> (bandwidth only, no latency).</summary>
    public static double Seconds(long bytes, double bytesPerSecond) => bytes / bytesPerSecond;
}
