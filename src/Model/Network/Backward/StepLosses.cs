namespace OpenMoE.Model.Network.Backward;

/// <summary>
/// What one forward/backward measured. Router losses are averaged over MoE layers (unweighted);
/// <see cref="Total"/> is CE + weighted router losses, the loss the gradients belong to.
/// </summary>
public sealed record StepLosses(
    double CrossEntropy, double LoadBalancing, double ZLoss, double Total, int Targets,
    IReadOnlyList<MoeLayerStep> MoeLayers)
{
    /// <summary>Dropped assignments over all assignments, all MoE layers together.</summary>
    public double DropRatio => MoeLayers.Count == 0 ? 0 : MoeLayers.Average(l => l.DropRatio);
}

/// <summary>
/// One MoE layer in one step: losses, the drop ratio, and routing counts for summaries.
/// // ExpertLoad [E] kept assignments per expert; DroppedByPosition [T] dropped assignments per position
/// </summary>
public sealed record MoeLayerStep(int Layer, double LoadBalancing, double ZLoss, double DropRatio, int[] ExpertLoad, int[] DroppedByPosition);
