using System.Collections.Immutable;

namespace OpenMoE.Model.Specs;

/// <summary>Name lookup shared by every generated <c>ModelSpecs</c> registry.</summary>
public static class ModelSpecCatalog
{
    /// <summary>The spec called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ModelSpecInfo? TryFind(ImmutableArray<ModelSpecInfo> all, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var spec in all)
        {
            if (string.Equals(spec.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return spec;
            }
        }
        return null;
    }

    /// <summary>The spec called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No spec has that name; the message lists the known names.</exception>
    public static ModelSpecInfo Find(ImmutableArray<ModelSpecInfo> all, string name) =>
        TryFind(all, name) ?? throw new ArgumentException(
            $"Unknown model spec '{name}'. Known specs: {string.Join(", ", all.Select(s => s.Name))}.",
            nameof(name));
}
