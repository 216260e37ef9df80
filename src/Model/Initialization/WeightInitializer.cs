using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Initialization;

/// <summary>
/// OpenMoE's initialisation (DESIGN §2.5): dense kernels by variance scaling (scale 0.1, fan-in,
/// truncated normal), the embedding N(0, 1), the router N(0, 0.02), norm weights 1; the query
/// projection carries the 1/sqrt(hd) factor when attention logits are not scaled. Each tensor has
/// its own random stream derived from (seed, tensor name), so a tensor's values do not depend on
/// the order tensors are made in, and loading can stream tensor by tensor.
/// </summary>
public static class WeightInitializer
{
    // Std of a unit normal truncated to [-2, 2]; variance scaling divides by it (as flax/t5x do).
    private const double TruncatedNormalStd = 0.87962566103423978;

    // Values generated per chunk while streaming: small next to any large tensor.
    private const int ChunkLength = 1 << 20;

    /// <summary>Fresh values for one parameter (row-major, HF shape).</summary>
    public static float[] Create(ModelConfig config, ParameterInfo parameter, ulong seed)
    {
        var values = new float[parameter.Elements];
        long filled = 0;
        Stream(config, parameter, seed, chunk =>
        {
            chunk.CopyTo(values.AsSpan((int)filled));
            filled += chunk.Length;
        });
        return values;
    }

    /// <summary>The same values as <see cref="Create"/>, streamed in chunks (for models whose tensors are large).</summary>
    public static void Stream(ModelConfig config, ParameterInfo parameter, ulong seed, TensorChunkSink sink)
    {
        var random = new SplitMix64(seed ^ Fnv1a(parameter.Name));
        var (std, truncated) = Distribution(config, parameter);
        var chunk = new float[(int)Math.Min(ChunkLength, parameter.Elements)];
        for (long done = 0; done < parameter.Elements; done += chunk.Length)
        {
            var span = chunk.AsSpan(0, (int)Math.Min(chunk.Length, parameter.Elements - done));
            if (std == 0)
                span.Fill(1f);
            else
                FillNormal(span, random, std, truncated);
            sink(span);
        }
    }

    /// <summary>(standard deviation, truncated) of a parameter's initial values; std 0 means "all ones" (norm weights).</summary>
    private static (double Std, bool Truncated) Distribution(ModelConfig config, ParameterInfo parameter)
    {
        switch (parameter.Role)
        {
            case ParameterRole.FinalNorm or ParameterRole.AttentionNorm or ParameterRole.FfnNorm or ParameterRole.ExtraNorm:
                return (0, false);
            case ParameterRole.Embedding:
                // A tied embedding doubles as the LM head, where N(0, 1) would give logits of size sqrt(D).
                return (config.TiedEmbeddings ? 1.0 / Math.Sqrt(config.Hidden) : 1.0, false);
            case ParameterRole.Router:
                return (0.02, false);
            default:
                double std = Math.Sqrt(0.1 / FanIn(parameter)) / TruncatedNormalStd;
                if (parameter.Role == ParameterRole.Query && config.AttentionScale == AttentionScale.None)
                    std /= Math.Sqrt(config.HeadDim);
                return (std, true);
        }
    }

    /// <summary>
    /// Inputs of one output unit: HF linears are [out, in]; OpenMoE's stacked expert tensors are
    /// [E, in, out] (DESIGN §2.6).
    /// </summary>
    private static long FanIn(ParameterInfo parameter) => parameter.Shape.Length == 3 ? parameter.Shape[1] : parameter.Shape[^1];

    private static void FillNormal(Span<float> values, SplitMix64 random, double std, bool truncated)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double z;
            do
            {
                z = random.NextGaussian();
            } while (truncated && Math.Abs(z) > 2.0);
            values[i] = (float)(z * std);
        }
    }

    /// <summary>FNV-1a 64 of a tensor name: the per-tensor stream key (also the upcycling noise's).</summary>
    internal static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash;
    }
}
