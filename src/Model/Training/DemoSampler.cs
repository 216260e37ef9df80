using OpenMoE.Model.Network;
using OpenMoE.Model.Tokenization;

namespace OpenMoE.Model.Training;

/// <summary>
/// A minimal sampler for the demo: the prompt through the forward pass once, then one token at a
/// time with the KV cache; greedy at temperature 0, else softmax sampling with a seeded generator.
/// </summary>
public static class DemoSampler
{
    /// <summary>Continues <paramref name="prompt"/> by up to <paramref name="maxTokens"/> tokens (stops at EOS).</summary>
    public static string Generate(MoeTransformer model, ITokenizer tokenizer, string prompt, int maxTokens, double temperature, int seed)
    {
        var config = model.Spec.Config;
        var ids = new List<int> { tokenizer.BosId };
        ids.AddRange(tokenizer.Encode(prompt));
        int budget = Math.Min(maxTokens, config.ContextLength - ids.Count);
        if (budget <= 0)
            return "";
        var random = new Random(seed);
        var options = new ForwardOptions { LastPositionOnly = true };
        using var cache = model.CreateCache(1, ids.Count + budget);
        var logits = model.Forward(ids.ToArray(), 1, options, cache).Logits;
        var generated = new List<int>();
        for (int i = 0; i < budget; i++)
        {
            int next = Pick(logits, temperature, random);
            if (next == tokenizer.EosId)
                break;
            generated.Add(next);
            logits = model.Forward([next], 1, options, cache).Logits;
        }
        return tokenizer.Decode(generated.ToArray());
    }

    private static int Pick(float[] logits, double temperature, Random random)
    {
        int best = 0;
        for (int v = 1; v < logits.Length; v++)
            if (logits[v] > logits[best]) best = v;
        if (temperature <= 0)
            return best;
        double sum = 0;
        var weights = new double[logits.Length];
        for (int v = 0; v < logits.Length; v++)
            sum += weights[v] = Math.Exp((logits[v] - logits[best]) / temperature);
        double u = random.NextDouble() * sum;
        for (int v = 0; v < logits.Length; v++)
        {
            u -= weights[v];
            if (u <= 0)
                return v;
        }
        return best;
    }
}
