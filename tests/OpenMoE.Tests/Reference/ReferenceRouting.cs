using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>Top-k selection, expert capacity and first-choices-first assignment (DESIGN §2.3), written plainly.</summary>
public static class ReferenceRouting
{
    /// <summary>
    /// Slots per expert for one routing group of <paramref name="tokens"/> tokens.
    /// T5X: max(round(cf*N/E), min) with round half to even (Python's round).
    /// Cai: floor(k*cf*N/E), plus one if odd, at least min.
    /// Dropless: N (a token picks an expert at most once, so nothing can overflow).
    /// </summary>
    public static int Capacity(CapacityRule rule, double capacityFactor, int tokens, int experts, int topK, int minCapacity) => rule switch
    {
        CapacityRule.T5x => Math.Max((int)Math.Round(capacityFactor * tokens / experts, MidpointRounding.ToEven), minCapacity),
        CapacityRule.Cai => Math.Max(RoundUpToEven((int)Math.Floor(topK * capacityFactor * tokens / experts)), minCapacity),
        CapacityRule.Dropless => tokens,
        _ => throw new InvalidOperationException($"Unknown capacity rule {rule}."),
    };

    private static int RoundUpToEven(int value) => value + value % 2;

    /// <summary>Indices of the k largest probabilities, largest first; ties go to the lower index.</summary>
    public static int[] TopK(double[] probabilities, int k)
    {
        var chosen = new int[k];
        var taken = new bool[probabilities.Length];
        for (int rank = 0; rank < k; rank++)
        {
            int best = -1;
            for (int e = 0; e < probabilities.Length; e++)
                if (!taken[e] && (best < 0 || probabilities[e] > probabilities[best])) best = e;
            chosen[rank] = best;
            taken[best] = true;
        }
        return chosen;
    }

    /// <summary>
    /// Places assignments into experts of <paramref name="capacity"/> slots: every token's first
    /// choice before any token's second choice, tokens in order within a rank. An assignment
    /// whose expert is full is dropped (slot -1).
    /// <paramref name="choices"/> [N][K] expert ids -> slots [N][K], -1 where dropped.
    /// </summary>
    public static int[][] AssignSlots(int[][] choices, int experts, int capacity)
    {
        int tokens = choices.Length;
        int topK = tokens == 0 ? 0 : choices[0].Length;
        var used = new int[experts];
        var slots = new int[tokens][];
        for (int n = 0; n < tokens; n++) slots[n] = new int[topK];
        for (int rank = 0; rank < topK; rank++)
            for (int n = 0; n < tokens; n++)
            {
                int expert = choices[n][rank];
                if (used[expert] < capacity)
                {
                    slots[n][rank] = used[expert];
                    used[expert]++;
                }
                else
                {
                    slots[n][rank] = -1;
                }
            }
        return slots;
    }
}
