namespace OpenMoE.Analysis;

/// <summary>
/// How concentrated a distribution over experts is (DESIGN §2.7), normalised so that the number
/// means the same for every E and K.
/// <para>
/// For counts <c>c[E]</c> collected from <c>n</c> occurrences with K choices each, the distribution
/// is <c>p_e = c_e / (K n)</c>. Its spread is the population standard deviation over experts,
/// <c>std(p) = sqrt(mean_e (p_e - 1/E)^2)</c>, divided by its largest possible value
/// <c>sqrt((E - K) / (K E^2))</c>, reached when every occurrence goes to the same K experts.
/// So the specialization is 1 for a token always sent to the same expert(s) and 0 for one spread
/// exactly evenly; with E = K every distribution is uniform and the specialization is 0.
/// </para>
/// <para>
/// Uniform baseline: if each occurrence picked its K experts uniformly at random, the expected
/// squared specialization of a token seen n times is exactly <c>1/n</c> (for every E and K), so
/// finite samples alone give a spread of about <c>1/sqrt(n)</c>. Aggregates over many ids are
/// root-mean-squares, which keeps that identity: <c>RMS spread = sqrt(mean S^2)</c> against the
/// baseline <c>sqrt(mean 1/n)</c>.
/// </para>
/// </summary>
public static class ExpertSpread
{
    /// <summary>Normalised specialization in [0, 1] of <paramref name="counts"/> (K choices per occurrence). // counts [E]</summary>
    public static double Specialization(ReadOnlySpan<long> counts, int topK)
    {
        int experts = counts.Length;
        if (topK >= experts)
            return 0;
        long total = 0;
        foreach (var c in counts)
            total += c;
        if (total == 0)
            return 0;
        double mean = 1.0 / experts, sumSquares = 0;
        foreach (var c in counts)
        {
            double deviation = (double)c / total - mean;
            sumSquares += deviation * deviation;
        }
        double std = Math.Sqrt(sumSquares / experts);
        return Math.Min(1.0, std / MaxStd(experts, topK));
    }

    /// <summary>Largest std of a distribution made of K-of-E choices: <c>sqrt((E - K) / (K E^2))</c>.</summary>
    public static double MaxStd(int experts, int topK) => Math.Sqrt((double)(experts - topK) / ((double)topK * experts * experts));

    /// <summary>Expected squared specialization of uniformly random routing over <paramref name="occurrences"/> samples: 1/n.</summary>
    public static double UniformExpectedSquare(long occurrences) => 1.0 / occurrences;

    /// <summary>Root-mean-square of <paramref name="values"/> (0 when empty).</summary>
    public static double RootMeanSquare(IEnumerable<double> values)
    {
        double sum = 0;
        long count = 0;
        foreach (var v in values)
        {
            sum += v * v;
            count++;
        }
        return count == 0 ? 0 : Math.Sqrt(sum / count);
    }
}
