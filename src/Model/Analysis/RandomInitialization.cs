using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Analysis;

/// <summary>
/// OpenMoE-like random weights (DESIGN §2.5) for analysing a model before training: kernels
/// truncated-normal (±2 std) with variance 0.1 / fan-in (fan-in = the tensor's second extent in the
/// checkpoint layout, e.g. D for [out, D] and [E, D, 2F]), the query carrying 1/sqrt(hd) when
/// logits are unscaled, embedding N(0, 1) (N(0, 1/D) when tied), router N(0, 0.02), norms 1. Each
/// tensor draws from its own generator seeded by (seed, tensor name), so the weights do not depend
/// on loading order.
/// </summary>
public static class RandomInitialization
{
    /// <summary>The initial values of <paramref name="parameter"/>, row-major in its shape.</summary>
    public static float[] Tensor(ModelConfig config, ParameterInfo parameter, int seed)
    {
        var values = new float[parameter.Elements];
        var random = new Random(unchecked(seed * 1_000_003 ^ StableHash(parameter.Name)));
        switch (parameter.Role)
        {
            case ParameterRole.FinalNorm or ParameterRole.AttentionNorm or ParameterRole.FfnNorm or ParameterRole.ExtraNorm:
                Array.Fill(values, 1f);
                break;
            case ParameterRole.Embedding:
                Fill(values, random, config.TiedEmbeddings ? 1.0 / Math.Sqrt(config.Hidden) : 1.0, truncated: false);
                break;
            case ParameterRole.Router:
                Fill(values, random, 0.02, truncated: false);
                break;
            default:
                double std = Math.Sqrt(0.1 / parameter.Shape[1]);
                if (parameter.Role == ParameterRole.Query && config.AttentionScale == AttentionScale.None)
                    std /= Math.Sqrt(config.HeadDim);
                Fill(values, random, std, truncated: true);
                break;
        }
        return values;
    }

    private static void Fill(float[] values, Random random, double std, bool truncated)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double z;
            do
            {
                // Box-Muller; 1 - NextDouble() lies in (0, 1] so the log is finite.
                z = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
            } while (truncated && Math.Abs(z) > 2.0);
            values[i] = (float)(std * z);
        }
    }

    // string.GetHashCode is randomised per process; FNV-1a keeps the weights reproducible across runs.
    private static int StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
            hash = (hash ^ c) * 16777619;
        return (int)hash;
    }
}
