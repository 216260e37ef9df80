using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Checkpointing;

/// <summary>
/// Sparse upcycling (Komatsuzaki et al., 2023; Megatron-Core <c>--moe-use-upcycling</c>): the weights of
/// an MoE model built from a trained dense one. Every tensor the two specs share (embedding, attention,
/// norms, the LM head, the FFNs of layers that stay dense) is copied; every routed expert of a MoE
/// layer starts as a copy of that layer's dense FFN, optionally with relative noise; the router is
/// freshly initialised. Tensors the dense model has no counterpart for (OpenMoE's extra FFN,
/// DeepSeekMoE's shared experts) are initialised fresh with a zero down projection, so they add
/// nothing until training moves them. With weights that sum to one over the chosen experts and no
/// drops (Mixtral: renormalised top-k, dropless) the upcycled model computes exactly the dense one.
/// </summary>
public static class Upcycling
{
    /// <summary>
    /// Fails with a message that says what to change when <paramref name="dense"/> cannot be upcycled
    /// into <paramref name="moe"/>: the first must have no MoE layer, the second at least one, and every
    /// size both have in common (vocabulary, hidden, heads, layers, FFN kind and width, ...) must agree,
    /// including each expert's width with the dense FFN's.
    /// </summary>
    public static void CheckCompatible(ModelSpecInfo dense, ModelSpecInfo moe)
    {
        var d = dense.Config;
        var m = moe.Config;
        if (d.MoeLayers.Count > 0)
            throw new ArgumentException($"{dense.Name} has MoE layers ({string.Join(", ", d.MoeLayers)}); upcycle from a dense spec (MoeLayerRule.Dense, e.g. {moe.Name}-Dense).");
        if (m.MoeLayers.Count == 0)
            throw new ArgumentException($"{moe.Name} is a dense spec; pass an MoE spec as --spec.");
        var sizes = new (string Field, object Dense, object Moe)[]
        {
            ("Vocab", d.Vocab, m.Vocab), ("Hidden", d.Hidden, m.Hidden), ("Heads", d.Heads, m.Heads), ("KvHeads", d.KvHeads, m.KvHeads),
            ("HeadDim", d.HeadDim, m.HeadDim), ("Layers", d.Layers, m.Layers), ("ContextLength", d.ContextLength, m.ContextLength),
            ("NormEps", d.NormEps, m.NormEps), ("RopeTheta", d.RopeTheta, m.RopeTheta), ("AttentionScale", d.AttentionScale, m.AttentionScale),
            ("TiedEmbeddings", d.TiedEmbeddings, m.TiedEmbeddings), ("FfnKind", d.FfnKind, m.FfnKind), ("Ffn", d.Ffn, m.Ffn),
            ("ExpertFfn (the dense Ffn)", d.Ffn, m.ExpertFfn),
        };
        foreach (var (field, a, b) in sizes)
        {
            if (!a.Equals(b))
                throw new ArgumentException($"{dense.Name} and {moe.Name} differ in {field} ({a} vs {b}); upcycle from the dense spec with {moe.Name}'s sizes.");
        }
    }

    /// <summary>
    /// Streams the upcycled value of <paramref name="parameter"/> (a tensor of <paramref name="moe"/>)
    /// to <paramref name="sink"/>. <paramref name="denseTensor"/> reads a dense tensor by name (HF shape,
    /// row-major); <paramref name="seed"/> seeds the router, the fresh tensors and the noise;
    /// <paramref name="noise"/> is the relative noise of each expert copy: w * (1 + noise * n), n ~ N(0, 1)
    /// per element and expert (0 = exact copies). Call <see cref="CheckCompatible"/> first.
    /// </summary>
    public static void Stream(ModelSpecInfo dense, ModelSpecInfo moe, ParameterInfo parameter, Func<string, float[]> denseTensor,
        ulong seed, double noise, TensorChunkSink sink)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(noise);
        switch (parameter.Role)
        {
            case ParameterRole.Router or ParameterRole.ExtraNorm or ParameterRole.ExtraGate or ParameterRole.ExtraUp
                or ParameterRole.SharedGate or ParameterRole.SharedUp:
                WeightInitializer.Stream(moe.Config, parameter, seed, sink);
                return;
            case ParameterRole.ExtraDown or ParameterRole.SharedDown:
                sink(new float[parameter.Elements]);
                return;
            case ParameterRole.ExpertGate or ParameterRole.ExpertUp or ParameterRole.ExpertDown:
                StreamExpert(dense, parameter, denseTensor, seed, noise, sink);
                return;
            default:
                var copy = denseTensor(parameter.Name);
                if (copy.Length != parameter.Elements)
                    throw new ArgumentException($"The dense tensor {parameter.Name} has {copy.Length} values, {moe.Name} needs {parameter.Elements}.");
                sink(copy);
                return;
        }
    }

    // Expert tensors come from the same layer's dense FFN: per-expert tensors (Mixtral, DeepSeekMoE) have
    // the dense shape; OpenMoE's expert stacks [E, D, 2F] / [E, D, F] / [E, F, D] hold each expert
    // transposed against the dense [2F, D] / [F, D] / [D, F].
    private static void StreamExpert(ModelSpecInfo dense, ParameterInfo parameter, Func<string, float[]> denseTensor,
        ulong seed, double noise, TensorChunkSink sink)
    {
        var role = parameter.Role switch
        {
            ParameterRole.ExpertGate => ParameterRole.DenseGate,
            ParameterRole.ExpertUp => ParameterRole.DenseUp,
            _ => ParameterRole.DenseDown,
        };
        var source = dense.Parameters.Single(p => p.Layer == parameter.Layer && p.Role == role);
        var values = denseTensor(source.Name);
        bool stacked = parameter.Shape.Length == 3;
        int experts = stacked ? (int)parameter.Shape[0] : 1;
        var expert = new float[values.Length];
        for (int e = 0; e < experts; e++)
        {
            if (stacked)
                Transpose(values, (int)source.Shape[0], (int)source.Shape[1], expert);
            else
                values.CopyTo(expert, 0);
            if (noise > 0)
            {
                // One stream per (tensor, expert): the noise of an expert does not depend on how many there are.
                var random = new SplitMix64(seed ^ WeightInitializer.Fnv1a(parameter.Name) ^ ((ulong)(parameter.Expert >= 0 ? parameter.Expert : e) * 0x9E3779B97F4A7C15UL));
                for (int i = 0; i < expert.Length; i++)
                    expert[i] *= (float)(1.0 + noise * random.NextGaussian());
            }
            sink(expert);
        }
    }

    // source [rows, cols] row-major -> target [cols, rows] row-major.
    private static void Transpose(float[] source, int rows, int cols, float[] target)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                target[c * rows + r] = source[r * cols + c];
    }
}
