using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>
/// All parameters of one model, keyed by Hugging Face tensor name (see <see cref="ReferenceParameterTable"/>).
/// Values are doubles that are exactly representable as floats, so a device model loaded with
/// <c>(float)value</c> holds the very same weights.
/// </summary>
public sealed class ReferenceWeights
{
    private readonly Dictionary<string, ReferenceTensor> _tensors;

    private ReferenceWeights(ModelConfig config, Dictionary<string, ReferenceTensor> tensors)
    {
        Config = config;
        _tensors = tensors;
    }

    /// <summary>The config these weights belong to.</summary>
    public ModelConfig Config { get; }

    /// <summary>Every tensor by name.</summary>
    public IReadOnlyDictionary<string, ReferenceTensor> Tensors => _tensors;

    /// <summary>The tensor called <paramref name="name"/>; throws naming the tensor if absent.</summary>
    public ReferenceTensor this[string name] =>
        _tensors.TryGetValue(name, out var tensor) ? tensor : throw new KeyNotFoundException($"No reference tensor named '{name}'.");

    /// <summary>
    /// OpenMoE-like random initialisation (DESIGN §2.5: truncated-normal variance scaling 0.1 for
    /// kernels, query carrying 1/sqrt(hd) when logits are unscaled, embedding N(0, 1), router
    /// N(0, 0.02), norms 1), drawn from <c>new Random(seed)</c> in parameter-table order and
    /// rounded to float.
    /// </summary>
    public static ReferenceWeights Random(ModelConfig config, int seed)
    {
        var random = new Random(seed);
        var tensors = new Dictionary<string, ReferenceTensor>(StringComparer.Ordinal);
        foreach (var parameter in ReferenceParameterTable.For(config))
        {
            var tensor = new ReferenceTensor(parameter.Shape);
            for (int i = 0; i < tensor.Data.Length; i++)
            {
                double value = parameter.Init switch
                {
                    ReferenceInit.Ones => 1.0,
                    ReferenceInit.Normal => parameter.Std * StandardNormal(random),
                    ReferenceInit.TruncatedNormal => parameter.Std * TruncatedStandardNormal(random),
                    _ => throw new InvalidOperationException($"Unknown init {parameter.Init}."),
                };
                tensor.Data[i] = (float)value;
            }
            tensors.Add(parameter.Name, tensor);
        }
        return new ReferenceWeights(config, tensors);
    }

    /// <summary>All-zero tensors in the config's table (gradient accumulators).</summary>
    public static ReferenceWeights Zeros(ModelConfig config) =>
        new(config, ReferenceParameterTable.For(config).ToDictionary(p => p.Name, p => new ReferenceTensor(p.Shape), StringComparer.Ordinal));

    /// <summary>Wraps existing tensors after checking that names and shapes match the config's table exactly.</summary>
    public static ReferenceWeights FromTensors(ModelConfig config, IReadOnlyDictionary<string, ReferenceTensor> tensors)
    {
        var table = ReferenceParameterTable.For(config);
        var copy = new Dictionary<string, ReferenceTensor>(StringComparer.Ordinal);
        foreach (var parameter in table)
        {
            if (!tensors.TryGetValue(parameter.Name, out var tensor))
                throw new ArgumentException($"Missing tensor '{parameter.Name}' [{string.Join(", ", parameter.Shape)}].");
            if (!tensor.Shape.SequenceEqual(parameter.Shape))
                throw new ArgumentException(
                    $"Tensor '{parameter.Name}' has shape [{string.Join(", ", tensor.Shape)}], expected [{string.Join(", ", parameter.Shape)}].");
            copy.Add(parameter.Name, tensor);
        }
        var extra = tensors.Keys.Where(name => !copy.ContainsKey(name)).ToArray();
        if (extra.Length > 0) throw new ArgumentException($"Unexpected tensors: {string.Join(", ", extra)}.");
        return new ReferenceWeights(config, copy);
    }

    /// <summary>The tensor's values as floats (exact: every value was rounded to float), for loading into a device model. Row-major in <see cref="ReferenceTensor.Shape"/>.</summary>
    public float[] ToFloats(string name) => Array.ConvertAll(this[name].Data, value => (float)value);

    /// <summary>A deep copy (for perturbing single entries in finite-difference checks).</summary>
    public ReferenceWeights Clone() =>
        new(Config, _tensors.ToDictionary(pair => pair.Key, pair => pair.Value.Clone(), StringComparer.Ordinal));

    private static double StandardNormal(Random random)
    {
        // Box-Muller; 1 - NextDouble() lies in (0, 1] so the log is finite.
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static double TruncatedStandardNormal(Random random)
    {
        while (true)
        {
            double z = StandardNormal(random);
            if (Math.Abs(z) <= 2.0) return z;
        }
    }
}
