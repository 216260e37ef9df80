namespace OpenMoE.Kernels.Routing;

/// <summary>
/// The routing rule as the router kernels read it (one struct, so kernels stay within the launcher's
/// parameter limit). Flags are 0 or 1. Built by the model's <c>DeviceRouter</c> from its routing options.
/// </summary>
public struct RouterRule
{
    /// <summary>E.</summary>
    public int Experts;
    /// <summary>K: choices per token (E with expert choice).</summary>
    public int TopK;
    /// <summary>1: weights are the chosen scores divided by their sum.</summary>
    public int Renormalize;
    /// <summary>1: sigmoid scores; 0: softmax.</summary>
    public int Sigmoid;
    /// <summary>Equal expert groups (1 = none).</summary>
    public int Groups;
    /// <summary>Groups a token may choose from.</summary>
    public int TopGroups;
    /// <summary>1: rank r is expert r for every token (expert choice; the capacity pass picks the tokens).</summary>
    public int ExpertChoice;
    /// <summary>1: add the per-expert bias to the selection keys.</summary>
    public int UseBias;
}
