using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Training;

/// <summary>
/// OpenMoE's initialisation (DESIGN §2.5), deterministic from a seed: dense kernels truncated
/// normal (at 2 std) with variance 0.1 / fan_in, the query projection additionally scaled by
/// 1/sqrt(hd) when attention logits are unscaled, the embedding N(0, 1), the router N(0, 0.02²),
/// norm weights 1. Each tensor draws from its own generator (seed, tensor index), so the result
/// does not depend on the order tensors are asked for.
/// </summary>
public static class ParameterInitializer
{
    /// <summary>Variance-scaling factor of the dense kernels.</summary>
    public const double KernelScale = 0.1;

    /// <summary>Standard deviation of the router weights.</summary>
    public const double RouterStd = 0.02;

    /// <summary>Initial values of <paramref name="parameter"/> of <paramref name="spec"/>.</summary>
    public static float[] Initialize(ModelSpecInfo spec, ParameterInfo parameter, ulong seed)
    {
        var config = spec.Config;
        var values = new float[parameter.Elements];
        int index = spec.Parameters.IndexOf(parameter);
        var random = new Random(unchecked((int)(seed * 1_000_003UL) ^ (index * 7919)));
        switch (parameter.Role)
        {
            case ParameterRole.Embedding:
                Fill(values, random, 1.0, truncated: false);
                break;
            case ParameterRole.Router:
                Fill(values, random, RouterStd, truncated: false);
                break;
            case ParameterRole.FinalNorm or ParameterRole.AttentionNorm or ParameterRole.FfnNorm or ParameterRole.ExtraNorm:
                Array.Fill(values, 1f);
                break;
            default:
                double std = Math.Sqrt(KernelScale / FanIn(parameter));
                if (parameter.Role == ParameterRole.Query && config.AttentionScale == AttentionScale.None)
                    std /= Math.Sqrt(config.HeadDim);
                // A normal truncated at 2 std has variance 0.774 of the untruncated one (t5x divides by 0.8796 = sqrt of it).
                Fill(values, random, std / 0.87962566103423978, truncated: true);
                break;
        }
        return values;
    }

    /// <summary>Input features: [Out, In] linears and [E, In, Out] expert stacks both keep In at index 1 (0 for a vector).</summary>
    private static long FanIn(ParameterInfo parameter) => parameter.Shape.Length switch
    {
        1 => parameter.Shape[0],
        _ => parameter.Shape[1],
    };

    private static void Fill(float[] values, Random random, double std, bool truncated)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double z;
            do
            {
                double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
                z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
            while (truncated && Math.Abs(z) > 2.0);
            values[i] = (float)(z * std);
        }
    }
}
