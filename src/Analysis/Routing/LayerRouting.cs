using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;

namespace OpenMoE.Analysis;

/// <summary>
/// How one MoE layer routed one batch: the chosen experts in rank order, whether each choice
/// was kept, and the router's full softmax (the margins and the capacity replay need it). Build it
/// from a forward trace with <see cref="FromTrace"/>, or directly for synthetic traces.
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="Experts">E.</param>
/// <param name="TopK">K.</param>
/// <param name="Capacity">Capacity per expert and routing group used for this batch.</param>
/// <param name="Expert">Chosen expert of token t at rank r, entry <c>t * K + r</c>. // [N, K]</param>
/// <param name="Kept">Whether that choice was kept (false = dropped by capacity). // [N, K]</param>
/// <param name="Probabilities">Router softmax over all experts; the choices are its top-k. // [N, E]</param>
public sealed record LayerRouting(int Layer, int Experts, int TopK, int Capacity, int[] Expert, bool[] Kept, float[] Probabilities)
{
    /// <summary>Tokens N.</summary>
    public int Tokens => Expert.Length / TopK;

    /// <summary>The routing of one MoE layer of a forward pass.</summary>
    public static LayerRouting FromTrace(MoeLayerTrace trace)
    {
        var routing = trace.Routing;
        var kept = Array.ConvertAll(routing.Slot, slot => slot >= 0);
        return new LayerRouting(trace.Layer, routing.Experts, routing.TopK, routing.Capacity, routing.Expert, kept, trace.Choices.Probabilities);
    }

    /// <summary>Tokens <c>[start, start + count)</c> of this batch (the capacity and kept flags stay those of the whole batch).</summary>
    public LayerRouting Slice(int start, int count) => this with
    {
        Expert = Expert[(start * TopK)..((start + count) * TopK)],
        Kept = Kept[(start * TopK)..((start + count) * TopK)],
        Probabilities = Probabilities[(start * Experts)..((start + count) * Experts)],
    };

    /// <summary>Probability of token <paramref name="token"/>'s rank-<paramref name="rank"/> choice.</summary>
    public float ChoiceProbability(int token, int rank) => Probabilities[token * Experts + Expert[token * TopK + rank]];

    /// <summary>
    /// How close token <paramref name="token"/>'s decision is to flipping: the probability of its last
    /// (rank K-1) choice minus the largest probability of an expert it did not choose; 0 with K = E.
    /// </summary>
    public double Margin(int token)
    {
        var chosen = Expert.AsSpan(token * TopK, TopK);
        double runnerUp = 0;
        bool any = false;
        for (int e = 0; e < Experts; e++)
        {
            if (chosen.Contains(e))
                continue;
            runnerUp = any ? Math.Max(runnerUp, Probabilities[token * Experts + e]) : Probabilities[token * Experts + e];
            any = true;
        }
        return any ? ChoiceProbability(token, TopK - 1) - runnerUp : 0;
    }

    /// <summary>
    /// The recorded choices as the routing engine's input, combine weights = raw probabilities (the
    /// weights do not affect which assignments a capacity rule keeps).
    /// </summary>
    public TopKChoices Choices()
    {
        var choiceProbabilities = new float[Expert.Length];
        for (int t = 0; t < Tokens; t++)
            for (int r = 0; r < TopK; r++)
                choiceProbabilities[t * TopK + r] = ChoiceProbability(t, r);
        return new TopKChoices(Tokens, Experts, TopK, Probabilities, Expert, choiceProbabilities, choiceProbabilities);
    }
}
