namespace OpenMoE.Model.Routing;

/// <summary>
/// Router auxiliary losses of one MoE layer with their gradients w.r.t. the router logits
/// (flaxformer <c>routing.py</c>: <c>_load_balancing_loss</c>, <c>_router_z_loss</c>). Computed in
/// double; the top-k choices are an input because they are not differentiable (flaxformer takes
/// them through <c>one_hot</c>), so the load-balancing gradient flows through the probabilities only.
/// </summary>
public static class RouterLosses
{
    /// <summary>
    /// Load-balancing loss, per group <c>E * sum_e f_e * P_e</c>, averaged over groups, where
    /// <c>f_e</c> = fraction of the group's tokens that have e among their top-k (counted before
    /// dropping, once per token, so <c>sum_e f_e = K</c>) and <c>P_e</c> = mean probability of e.
    /// Uniform routing gives K. flaxformer writes it as <c>mean_{g,e}(f*P) * E^2</c>, which is the same.
    /// Adds the gradient to <paramref name="gradLogits"/> when it is not empty.
    /// // logits [N, E], choices [N, K], gradLogits [N, E] or empty
    /// </summary>
    public static double LoadBalancing(
        ReadOnlySpan<double> logits, ReadOnlySpan<int> choices, int tokens, int experts, int topK, int tokensPerGroup,
        Span<double> gradLogits, double scale = 1.0)
    {
        CheckShapes(logits, tokens, experts, gradLogits);
        if (choices.Length != tokens * topK || tokensPerGroup < 1 || tokens % tokensPerGroup != 0)
            throw new ArgumentException("Choices must be [N, K] and the group size must divide N.");
        int groups = tokens / tokensPerGroup;
        var probabilities = new double[tokensPerGroup * experts];
        var fraction = new double[experts];
        var meanProbability = new double[experts];
        double loss = 0;
        for (int g = 0; g < groups; g++)
        {
            Array.Clear(fraction);
            Array.Clear(meanProbability);
            for (int i = 0; i < tokensPerGroup; i++)
            {
                int t = g * tokensPerGroup + i;
                var p = probabilities.AsSpan(i * experts, experts);
                SoftmaxDouble(logits.Slice(t * experts, experts), p);
                for (int e = 0; e < experts; e++)
                    meanProbability[e] += p[e] / tokensPerGroup;
                foreach (int e in choices.Slice(t * topK, topK))
                    fraction[e] += 1.0 / tokensPerGroup;
            }
            double groupLoss = 0;
            for (int e = 0; e < experts; e++)
                groupLoss += fraction[e] * meanProbability[e];
            loss += experts * groupLoss / groups;

            if (gradLogits.IsEmpty)
                continue;
            // dL/dp[t,e] = E * f_e / (G * group size); then back through each token's softmax.
            var gradProbability = new double[experts];
            for (int e = 0; e < experts; e++)
                gradProbability[e] = scale * experts * fraction[e] / ((double)groups * tokensPerGroup);
            for (int i = 0; i < tokensPerGroup; i++)
            {
                int t = g * tokensPerGroup + i;
                SoftmaxBackward(probabilities.AsSpan(i * experts, experts), gradProbability, gradLogits.Slice(t * experts, experts));
            }
        }
        return loss;
    }

    /// <summary>
    /// Router z-loss <c>mean_t(logsumexp(logits_t)^2)</c> over all N tokens (groups do not matter).
    /// Adds <c>scale * 2 * lse_t * softmax_t / N</c> to <paramref name="gradLogits"/> when not empty.
    /// // logits [N, E], gradLogits [N, E] or empty
    /// </summary>
    public static double ZLoss(ReadOnlySpan<double> logits, int tokens, int experts, Span<double> gradLogits, double scale = 1.0)
    {
        CheckShapes(logits, tokens, experts, gradLogits);
        double loss = 0;
        for (int t = 0; t < tokens; t++)
        {
            var row = logits.Slice(t * experts, experts);
            double lse = LogSumExp(row);
            loss += lse * lse / tokens;
            if (gradLogits.IsEmpty)
                continue;
            for (int e = 0; e < experts; e++)
                gradLogits[t * experts + e] += scale * 2.0 * lse * Math.Exp(row[e] - lse) / tokens;
        }
        return loss;
    }

    /// <summary>Numerically stable log-sum-exp of one row.</summary>
    public static double LogSumExp(ReadOnlySpan<double> row)
    {
        double max = double.NegativeInfinity;
        foreach (double v in row)
            max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in row)
            sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>fp32 convenience: widens the logits, adds the gradient into fp32 storage.</summary>
    public static double LoadBalancing(
        ReadOnlySpan<float> logits, ReadOnlySpan<int> choices, int tokens, int experts, int topK, int tokensPerGroup,
        Span<float> gradLogits, double scale = 1.0)
    {
        var wide = Widen(logits);
        var grad = gradLogits.IsEmpty ? Array.Empty<double>() : new double[wide.Length];
        double loss = LoadBalancing(wide, choices, tokens, experts, topK, tokensPerGroup, grad, scale);
        AddNarrowed(grad, gradLogits);
        return loss;
    }

    /// <summary>fp32 convenience: widens the logits, adds the gradient into fp32 storage.</summary>
    public static double ZLoss(ReadOnlySpan<float> logits, int tokens, int experts, Span<float> gradLogits, double scale = 1.0)
    {
        var wide = Widen(logits);
        var grad = gradLogits.IsEmpty ? Array.Empty<double>() : new double[wide.Length];
        double loss = ZLoss(wide, tokens, experts, grad, scale);
        AddNarrowed(grad, gradLogits);
        return loss;
    }

    private static void SoftmaxDouble(ReadOnlySpan<double> logits, Span<double> probabilities)
    {
        double lse = LogSumExp(logits);
        for (int e = 0; e < logits.Length; e++)
            probabilities[e] = Math.Exp(logits[e] - lse);
    }

    // dL/dl_j = p_j * (g_j - sum_e p_e g_e)
    private static void SoftmaxBackward(ReadOnlySpan<double> p, ReadOnlySpan<double> gradP, Span<double> gradLogits)
    {
        double dot = 0;
        for (int e = 0; e < p.Length; e++)
            dot += p[e] * gradP[e];
        for (int e = 0; e < p.Length; e++)
            gradLogits[e] += p[e] * (gradP[e] - dot);
    }

    private static void CheckShapes<T>(ReadOnlySpan<double> logits, int tokens, int experts, Span<T> grad)
    {
        if (tokens < 1 || experts < 1 || logits.Length != tokens * experts)
            throw new ArgumentException($"Router logits hold {logits.Length} values, expected N*E = {tokens}*{experts}.");
        if (!grad.IsEmpty && grad.Length != logits.Length)
            throw new ArgumentException("The gradient must be empty or shaped like the logits [N, E].");
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var wide = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            wide[i] = values[i];
        return wide;
    }

    private static void AddNarrowed(ReadOnlySpan<double> source, Span<float> target)
    {
        for (int i = 0; i < source.Length; i++)
            target[i] += (float)source[i];
    }
}
