using OpenMoE.Model.Network;

namespace OpenMoE.Analysis;

/// <summary>
/// How one MoE layer routed one batch: the chosen experts in rank order and whether each choice
/// was kept. Build it from a forward trace with <see cref="FromTrace"/>, or directly for synthetic traces.
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Experts">E.</param>
/// <param name="TopK">K.</param>
/// <param name="Capacity">Capacity per expert and routing group used for this batch.</param>
/// <param name="Expert">Chosen expert of token t at rank r, entry <c>t * K + r</c>. // [N, K]</param>
/// <param name="Kept">Whether that choice was kept (false = dropped by capacity). // [N, K]</param>
public sealed record LayerRouting(int Layer, int Experts, int TopK, int Capacity, int[] Expert, bool[] Kept)
{
    /// <summary>Tokens N.</summary>
    public int Tokens => Expert.Length / TopK;

    /// <summary>The routing of one MoE layer of a forward pass.</summary>
    public static LayerRouting FromTrace(MoeLayerTrace trace)
    {
        var routing = trace.Routing;
        var kept = Array.ConvertAll(routing.Slot, slot => slot >= 0);
        return new LayerRouting(trace.Layer, routing.Experts, routing.TopK, routing.Capacity, routing.Expert, kept);
    }
}
