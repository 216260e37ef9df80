using OpenMoE.Model.Network;
using OpenMoE.Runtime.Communication;

namespace OpenMoE.Model.Generation;

/// <summary>
/// Autoregressive decoding with a KV cache: one forward over the prompt, then one position per
/// step. Only the last position's logits are computed, and routing traces are off. On an
/// expert-parallel rank (<see cref="MoeTransformer.Parallel"/>) rank 0 holds the sequence and samples,
/// the other ranks serve their experts in every forward, and each new token is sent to every rank, so
/// the ranks stop together and the tokens are the ones a single process generates.
/// </summary>
public sealed class TextGenerator(MoeTransformer model)
{
    /// <summary>
    /// Continues <paramref name="prompt"/> by up to <paramref name="maxNewTokens"/> tokens, stopping
    /// early after <paramref name="stopToken"/>; <paramref name="onToken"/> sees each new token.
    /// Routing uses the spec's evaluation capacity factor unless <paramref name="capacityFactor"/> is set.
    /// </summary>
    public int[] Generate(int[] prompt, int maxNewTokens, SamplingOptions sampling, int? stopToken = null,
        Action<int>? onToken = null, double? capacityFactor = null)
    {
        if (model.RoutingConfig.RoutingRule == Specs.RoutingRule.ExpertChoice)
            throw new ArgumentException("Expert choice routes a token by the tokens after it, which generation has not seen yet: generate with a token-choice rule (--routing token-choice).");
        if (prompt.Length == 0)
            throw new ArgumentException("The prompt is empty: give at least one token (e.g. the BOS id 0) or some text.");
        if (maxNewTokens < 0)
            throw new ArgumentException($"--max-new-tokens must be >= 0, got {maxNewTokens}.");
        int context = model.Spec.Config.ContextLength;
        if (prompt.Length + maxNewTokens > context)
            throw new ArgumentException(
                $"Prompt ({prompt.Length} tokens) + {maxNewTokens} new tokens exceeds the context length {context}: ask for fewer tokens.");

        var sampler = new TokenSampler(sampling);
        var options = new ForwardOptions { CollectTrace = false, LastPositionOnly = true, CapacityFactor = capacityFactor };
        var parallel = model.Parallel;
        bool holdsSequence = parallel is null || parallel.Rank == 0;
        using var cache = holdsSequence ? model.CreateCache(1, prompt.Length + Math.Max(maxNewTokens, 1)) : null;
        var generated = new List<int>(maxNewTokens);
        ForwardResult? Step(int[] tokens)
        {
            if (holdsSequence)
                return model.Forward(tokens, 1, options, cache);
            model.ServeExperts(tokens.Length, options);
            return null;
        }
        var logits = Step(prompt);
        while (generated.Count < maxNewTokens)
        {
            int next = holdsSequence ? sampler.Next(logits!.Row(0, 0)) : 0;
            if (parallel is not null)
                next = parallel.Communicator.AllGather(next)[0];
            generated.Add(next);
            onToken?.Invoke(next);
            if (next == stopToken || generated.Count == maxNewTokens)
                break;
            logits = Step([next]);
        }
        return generated.ToArray();
    }
}
