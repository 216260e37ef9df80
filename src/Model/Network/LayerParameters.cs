using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network;

/// <summary>
/// The generated parameter table of one spec, indexed by (layer, role, expert), so the network
/// finds its tensors by meaning and never spells a tensor name or a size itself.
/// </summary>
public sealed class LayerParameters
{
    private readonly Dictionary<(int Layer, ParameterRole Role, int Expert), ParameterInfo> _byKey;

    /// <summary>Index <paramref name="spec"/>'s parameter table.</summary>
    public LayerParameters(ModelSpecInfo spec)
    {
        Spec = spec;
        _byKey = spec.Parameters.ToDictionary(p => (p.Layer, p.Role, p.Expert));
    }

    /// <summary>The spec whose table this is.</summary>
    public ModelSpecInfo Spec { get; }

    /// <summary>The tensor of <paramref name="role"/> in <paramref name="layer"/> (-1 = global), or of one expert.</summary>
    public ParameterInfo Get(int layer, ParameterRole role, int expert = -1) =>
        _byKey.TryGetValue((layer, role, expert), out var p)
            ? p
            : throw new InvalidOperationException(
                $"Spec {Spec.Name} has no {role} tensor for layer {layer}{(expert >= 0 ? $", expert {expert}" : "")}.");

    /// <summary>True when the table has that tensor.</summary>
    public bool Has(int layer, ParameterRole role, int expert = -1) => _byKey.ContainsKey((layer, role, expert));
}
