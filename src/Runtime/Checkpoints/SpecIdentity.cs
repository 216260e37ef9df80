namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Which model spec a checkpoint belongs to: the spec name and a hash of every spec field
/// (computed by the model layer). Loading refuses a checkpoint whose hash differs.
/// </summary>
/// <param name="Name">Spec name, e.g. "OpenMoE-Base/16E".</param>
/// <param name="Hash">Hash string of every spec field.</param>
public sealed record SpecIdentity(string Name, string Hash)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name} (spec hash {Hash})";
}
