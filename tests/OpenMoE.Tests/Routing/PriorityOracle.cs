using OpenMoE.Model.Routing;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The priority order written out independently of the router, for the laws to check against:
/// per group, rank 0 of every visited token, then rank 1, ...; visit order is token order or
/// (batch-prioritised) decreasing raw top-1 probability with ties kept in token order.
/// </summary>
public static class PriorityOracle
{
    /// <summary>Assignment indices t*K + r of group <paramref name="group"/> in priority order.</summary>
    public static List<int> Order(RoutingCase c, int group)
    {
        var choices = c.Choose();
        int size = c.Options.TokensPerGroup(c.Tokens);
        var tokens = Enumerable.Range(group * size, size).ToArray();
        if (c.Options.BatchPrioritized)
        {
            var keyed = tokens.Select(t => (Key: choices.ChoiceProbabilities[t * c.TopK], Token: t)).ToList();
            keyed.Sort((a, b) => a.Key != b.Key ? b.Key.CompareTo(a.Key) : a.Token.CompareTo(b.Token));
            tokens = keyed.Select(x => x.Token).ToArray();
        }
        var order = new List<int>();
        for (int r = 0; r < c.TopK; r++)
            order.AddRange(tokens.Select(t => t * c.TopK + r));
        return order;
    }

    /// <summary>Group of assignment a.</summary>
    public static int GroupOf(RoutingResult result, int assignment) => assignment / result.TopK / result.TokensPerGroup;
}
