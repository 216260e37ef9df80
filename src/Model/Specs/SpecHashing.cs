using System.Globalization;
using System.Text;

namespace OpenMoE.Model.Specs;

/// <summary>
/// The stable identity of a <see cref="ModelConfig"/>: FNV-1a 64 over a canonical listing of
/// every field (ordinal field order, invariant integers, doubles as their IEEE bits). The
/// generator computes the same hash at compile time (<c>SpecHash</c>); checkpoints store it and
/// compare it on load.
/// </summary>
public static class SpecHashing
{
    /// <summary>The canonical listing: one <c>Field=value</c> line per config field, in declaration order.</summary>
    public static string CanonicalListing(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var lines = new StringBuilder();
        void Line(string field, string value) => lines.Append(field).Append('=').Append(value).Append('\n');
        static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
        static string Real(double value) => "0x" + BitConverter.DoubleToInt64Bits(value).ToString("X16", CultureInfo.InvariantCulture);

        Line("Name", config.Name);
        Line("Vocab", Int(config.Vocab));
        Line("Hidden", Int(config.Hidden));
        Line("Heads", Int(config.Heads));
        Line("KvHeads", Int(config.KvHeads));
        Line("HeadDim", Int(config.HeadDim));
        Line("Layers", Int(config.Layers));
        Line("ContextLength", Int(config.ContextLength));
        Line("NormEps", Real(config.NormEps));
        Line("RopeTheta", Real(config.RopeTheta));
        Line("AttentionScale", Int((int)config.AttentionScale));
        Line("TiedEmbeddings", config.TiedEmbeddings ? "1" : "0");
        Line("FfnKind", Int((int)config.FfnKind));
        Line("Ffn", Int(config.Ffn));
        Line("MoeLayerRule", Int((int)config.MoeLayerRule));
        Line("MoeLayerParameter", Int(config.MoeLayerParameter));
        Line("Experts", Int(config.Experts));
        Line("TopK", Int(config.TopK));
        Line("ExpertFfn", Int(config.ExpertFfn));
        Line("SharedExpertKind", Int((int)config.SharedExpertKind));
        Line("SharedExperts", Int(config.SharedExperts));
        Line("SharedExpertFfn", Int(config.SharedExpertFfn));
        Line("Gating", Int((int)config.Gating));
        Line("CapacityRule", Int((int)config.CapacityRule));
        Line("TrainCapacityFactor", Real(config.TrainCapacityFactor));
        Line("EvalCapacityFactor", Real(config.EvalCapacityFactor));
        Line("MinCapacity", Int(config.MinCapacity));
        // Routing fields added with issue 16 are listed only when not at their default, so every
        // spec (and checkpoint) from before keeps its hash.
        if (config.RoutingRule != RoutingRule.TokenChoice) Line("RoutingRule", Int((int)config.RoutingRule));
        if (config.RouterScoring != RouterScoring.Softmax) Line("RouterScoring", Int((int)config.RouterScoring));
        if (config.DropPolicy != DropPolicy.ByPosition) Line("DropPolicy", Int((int)config.DropPolicy));
        if (config.ExpertBias) Line("ExpertBias", "1");
        if (config.BiasUpdateRate != 0.001) Line("BiasUpdateRate", Real(config.BiasUpdateRate));
        if (config.ExpertGroups != 1) Line("ExpertGroups", Int(config.ExpertGroups));
        if (config.TopGroups != 1) Line("TopGroups", Int(config.TopGroups));
        return lines.ToString();
    }

    /// <summary>FNV-1a 64 of the UTF-8 canonical listing, as 16 upper-case hex digits.</summary>
    public static string Compute(ModelConfig config)
    {
        const ulong offsetBasis = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offsetBasis;
        foreach (var b in Encoding.UTF8.GetBytes(CanonicalListing(config)))
        {
            hash = unchecked((hash ^ b) * prime);
        }
        return hash.ToString("X16", CultureInfo.InvariantCulture);
    }
}
