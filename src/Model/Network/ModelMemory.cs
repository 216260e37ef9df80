using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network;

/// <summary>
/// Up-front memory estimates, so a command that cannot fit refuses at once with the figure instead
/// of dying of out-of-memory minutes later. The estimates are deliberately simple upper-bound-ish
/// sums (fp32 everywhere): weights, and for training gradients and optimizer state, plus per token
/// the activations a forward keeps (per layer ~16 D + 8 F + the attention row of T scores per head,
/// MoE layers K expert rows of 4 F, and 3 V for the logits, their log-softmax and gradient).
/// </summary>
public static class ModelMemory
{
    /// <summary>Host-side copies per parameter in training: values, gradients, optimizer state (AdamW: 2), device weights and gradients.</summary>
    private const long TrainingBytesPerParameter = 4 * 6;

    /// <summary>Bytes of the fp32 weights.</summary>
    public static long WeightBytes(ModelSpecInfo spec) => 4 * spec.TotalParams;

    /// <summary>Bytes of the activations of one forward over <paramref name="batch"/> x <paramref name="seq"/> tokens.</summary>
    public static long ActivationBytes(ModelSpecInfo spec, long batch, long seq)
    {
        var c = spec.Config;
        long perTokenDense = 16L * c.Hidden + 8L * c.Ffn + (long)c.Heads * seq;
        long perTokenMoe = 16L * c.Hidden + 4L * c.TopK * c.ExpertFfn + 4L * c.SharedExperts * c.SharedExpertFfn + (long)c.Heads * seq + c.Experts;
        int moeLayers = c.MoeLayers.Count;
        long perToken = (c.Layers - moeLayers) * perTokenDense + moeLayers * perTokenMoe + 3L * c.Vocab;
        return Saturating(4, Saturating(batch * seq, perToken));
    }

    /// <summary>Bytes a training run of this shape needs.</summary>
    public static long TrainingBytes(ModelSpecInfo spec, long batch, long seq) =>
        Saturating(TrainingBytesPerParameter, spec.TotalParams) + ActivationBytes(spec, batch, seq);

    /// <summary>Bytes inference of this shape needs (weights plus one forward).</summary>
    public static long InferenceBytes(ModelSpecInfo spec, long batch, long seq) => WeightBytes(spec) + ActivationBytes(spec, batch, seq);

    /// <summary>Memory this process may use: the GC's limit (the container's or the machine's).</summary>
    public static long AvailableBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when <paramref name="needed"/> exceeds <paramref name="available"/>,
    /// naming <paramref name="what"/>, both figures and <paramref name="advice"/>.
    /// </summary>
    public static void Require(string what, long needed, long available, string advice)
    {
        if (needed > available)
            throw new ArgumentException($"{what} needs about {GiB(needed)} of memory, but {GiB(available)} is available. {advice}");
    }

    /// <summary>Bytes as GiB with two decimals.</summary>
    public static string GiB(long bytes) => $"{bytes / (double)(1L << 30):F2} GiB";

    private static long Saturating(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;
}
