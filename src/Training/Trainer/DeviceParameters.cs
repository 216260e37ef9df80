using ILGPU;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;

namespace OpenMoE.Training;

/// <summary>
/// Every trained tensor and its gradient as device views, in spec order: what clipping and the
/// optimizer update in place. The views belong to the network (or, in tests, to the caller).
/// </summary>
public sealed class DeviceParameters
{
    /// <summary>Binds explicit views (optimizer tests and tools); each array is in <paramref name="infos"/> order.</summary>
    public DeviceParameters(ParameterInfo[] infos, ArrayView<float>[] values, ArrayView<float>[] gradients)
    {
        if (values.Length != infos.Length || gradients.Length != infos.Length)
            throw new ArgumentException($"{infos.Length} parameters need as many value and gradient views (got {values.Length} and {gradients.Length}).");
        for (int i = 0; i < infos.Length; i++)
        {
            if (values[i].Length != infos[i].Elements || gradients[i].Length != infos[i].Elements)
                throw new ArgumentException($"Parameter '{infos[i].Name}' has {infos[i].Elements:N0} elements; its views have {values[i].Length:N0} and {gradients[i].Length:N0}.");
        }
        (Infos, Values, Gradients) = (infos, values, gradients);
    }

    /// <summary>The weights and gradients of <paramref name="network"/>.</summary>
    public static DeviceParameters Of(TrainingNetwork network)
    {
        var infos = network.Weights.Held.ToArray();
        return new(infos, Array.ConvertAll(infos, p => network.Weights[p]), Array.ConvertAll(infos, p => network.Gradients[p]));
    }

    /// <summary>Parameter descriptions, in spec order.</summary>
    public ParameterInfo[] Infos { get; }

    /// <summary>Values per parameter [elements].</summary>
    public ArrayView<float>[] Values { get; }

    /// <summary>Gradients per parameter [elements] (clipping and Adafactor overwrite them).</summary>
    public ArrayView<float>[] Gradients { get; }

    /// <summary>
    /// Optimizer state and scratch are matched to tensors by position: a set in another order or of
    /// other tensors than <paramref name="expected"/> (what <paramref name="owner"/> was made for) is an error.
    /// </summary>
    public void RequireTensors(ParameterInfo[] expected, string owner)
    {
        if (ReferenceEquals(expected, Infos))
            return;
        bool same = expected.Length == Infos.Length;
        for (int i = 0; same && i < expected.Length; i++)
            same = expected[i].Name == Infos[i].Name && expected[i].Elements == Infos[i].Elements;
        if (!same)
            throw new ArgumentException($"{owner} was made for {expected.Length} other tensors (in order) than the {Infos.Length} it was given.");
    }
}
