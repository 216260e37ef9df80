using System.Collections.Immutable;

namespace OpenMoE.Model.Network;

/// <summary>
/// What one forward/backward measured. Router losses are averaged over MoE layers (unweighted);
/// <see cref="Total"/> is CE + weighted router losses, the loss the gradients belong to.
/// <see cref="MoeLayers"/> are the network's own records, overwritten by its next forward/backward.
/// </summary>
public readonly record struct StepLosses(
    double CrossEntropy, double LoadBalancing, double ZLoss, double Total, int Targets,
    ImmutableArray<MoeLayerStep> MoeLayers, double ForwardSeconds)
{
    /// <summary>Dropped assignments over all assignments, all MoE layers together.</summary>
    public double DropRatio => MoeLayerStep.MeanDropRatio(MoeLayers);
}

/// <summary>
/// One MoE layer in one step: losses, the drop ratio, and routing counts for summaries. The
/// training network keeps one per MoE layer and overwrites it on every step (steps allocate nothing).
/// // ExpertLoad [E] kept assignments per expert; DroppedByPosition [T] dropped assignments per position
/// </summary>
public sealed class MoeLayerStep
{
    internal MoeLayerStep(int layer, int experts, int time)
    {
        Layer = layer;
        ExpertLoad = new int[experts];
        ExpertDemand = new int[experts];
        DroppedByPosition = new int[time];
    }

    /// <summary>Decoder layer index.</summary>
    public int Layer { get; }
    /// <summary>Unweighted load-balancing loss.</summary>
    public double LoadBalancing { get; internal set; }
    /// <summary>Unweighted router z-loss.</summary>
    public double ZLoss { get; internal set; }
    /// <summary>Dropped assignments over all N*K assignments.</summary>
    public double DropRatio { get; internal set; }
    /// <summary>Kept assignments per expert. // [E]</summary>
    public int[] ExpertLoad { get; }
    /// <summary>Assignments that selected each expert, before dropping: the load the expert bias balances. // [E]</summary>
    public int[] ExpertDemand { get; }
    /// <summary>Tokens that lost every assignment (the comparable drop number of expert choice, whose N*E candidates mostly drop), over N.</summary>
    public double UnroutedTokens { get; internal set; }
    /// <summary>Dropped assignments per position. // [T]</summary>
    public int[] DroppedByPosition { get; }

    /// <summary>Mean drop ratio over <paramref name="layers"/> (0 without MoE layers).</summary>
    public static double MeanDropRatio(ImmutableArray<MoeLayerStep> layers)
    {
        if (layers.IsDefaultOrEmpty)
            return 0;
        double sum = 0;
        foreach (var layer in layers)
            sum += layer.DropRatio;
        return sum / layers.Length;
    }
}
