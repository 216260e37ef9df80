namespace OpenMoE.Analysis;

/// <summary>What the top-1 expert is compared with in <see cref="MutualInformation"/>.</summary>
public enum RoutingVariable
{
    /// <summary>The token's own id.</summary>
    TokenId,
    /// <summary>Its position in the row.</summary>
    Position,
    /// <summary>The id of the token before it (tokens whose predecessor is document text).</summary>
    PreviousToken,
}

/// <summary>
/// Normalised mutual information between a token's top-1 expert E and one variable X (token id,
/// position, previous token id), over document tokens:
/// <c>NMI = I(X; E) / H(E)</c>, <c>I = sum_{x,e} p(x,e) ln(p(x,e) / (p(x) p(e)))</c>,
/// <c>H(E) = -sum_e p(e) ln p(e)</c>: the share of the expert's uncertainty that knowing X removes
/// (0 = X says nothing about the expert, 1 = X decides it). It is compared across variables because,
/// unlike the spread, it does not depend on how many distinct values a variable has in the limit;
/// with finite data a variable with many values (token ids) gets a positive bias, which the untrained
/// and uniform controls expose.
/// </summary>
public static class MutualInformation
{
    /// <summary>NMI of <paramref name="variable"/> and the top-1 expert of MoE layer index <paramref name="m"/>, over <paramref name="rows"/>.</summary>
    public static double Normalized(IReadOnlyList<RoutingBatch> rows, int m, RoutingVariable variable)
    {
        var joint = new Dictionary<(int X, int E), long>();
        foreach (var row in rows)
        {
            var routing = row.Layers[m];
            for (int i = 0; i < row.Tokens; i++)
            {
                if (!row.IsText(i))
                    continue;
                int position = i % row.SequenceLength;
                int? x = variable switch
                {
                    RoutingVariable.TokenId => row.TokenIds[i],
                    RoutingVariable.Position => position,
                    _ => position > 0 && row.IsText(i - 1) ? row.TokenIds[i - 1] : null,
                };
                if (x is not int value)
                    continue;
                var key = (value, routing.Expert[i * routing.TopK]);
                joint[key] = joint.GetValueOrDefault(key) + 1;
            }
        }
        return FromJoint(joint);
    }

    /// <summary>I(X; E) / H(E) of joint counts (0 when E is constant or there are no counts).</summary>
    public static double FromJoint(IReadOnlyDictionary<(int X, int E), long> joint)
    {
        double total = joint.Values.Sum();
        if (total == 0)
            return 0;
        var px = new Dictionary<int, double>();
        var pe = new Dictionary<int, double>();
        foreach (var ((x, e), n) in joint)
        {
            px[x] = px.GetValueOrDefault(x) + n / total;
            pe[e] = pe.GetValueOrDefault(e) + n / total;
        }
        double entropy = -pe.Values.Sum(p => p * Math.Log(p));
        if (entropy <= 0)
            return 0;
        double information = joint.Sum(p => p.Value / total * Math.Log(p.Value / total / (px[p.Key.X] * pe[p.Key.E])));
        return Math.Max(0, information) / entropy;
    }
}
