using OpenMoE.Model.Specs;

namespace OpenMoE.Training;

/// <summary>
/// Host copies of every parameter and its gradient, in spec order, for the optimizer. Arrays are
/// allocated once; <see cref="ParameterTransfers"/> moves them to and from the device.
/// </summary>
public sealed class HostParameters
{
    /// <summary>Allocates host arrays for every parameter of <paramref name="spec"/> and fills the values from <paramref name="source"/>.</summary>
    public HostParameters(ModelSpecInfo spec, Func<ParameterInfo, float[]> source)
        : this(spec.Parameters.ToArray(), source)
    {
    }

    private HostParameters(ParameterInfo[] infos, Func<ParameterInfo, float[]> source)
    {
        Infos = infos;
        Values = Infos.Select(source).ToArray();
        Gradients = Infos.Select(p => new float[p.Elements]).ToArray();
        for (int i = 0; i < Infos.Length; i++)
        {
            if (Values[i].LongLength != Infos[i].Elements)
                throw new ArgumentException($"Parameter '{Infos[i].Name}' has {Values[i].LongLength} values, expected {Infos[i].Elements}.");
        }
    }

    /// <summary>A set of arbitrary tensors (for optimizer tests and tools): values are used as given.</summary>
    public static HostParameters Of(ParameterInfo[] infos, float[][] values) => new(infos, p => values[Array.IndexOf(infos, p)]);

    /// <summary>Parameter descriptions, in spec order.</summary>
    public ParameterInfo[] Infos { get; }

    /// <summary>Values per parameter.</summary>
    public float[][] Values { get; }

    /// <summary>Gradients per parameter (filled by <see cref="ParameterTransfers.DownloadGradients"/>).</summary>
    public float[][] Gradients { get; }

    /// <summary>Total number of parameters.</summary>
    public long Count => Infos.Sum(p => p.Elements);

    /// <summary>Value of the parameter named <paramref name="name"/>.</summary>
    public float[] this[string name] => Values[Array.FindIndex(Infos, p => p.Name == name)];
}
