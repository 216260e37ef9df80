using System;
using System.Globalization;
using System.Text;

namespace OpenMoE.Generators;

/// <summary>
/// Compile-time twin of OpenMoE.Model.Specs.SpecHashing: FNV-1a 64 over the canonical listing of
/// every config field. A test checks both give the same hash for every shipped spec.
/// </summary>
internal static class SpecHashing
{
    public static string Compute(SpecModel spec)
    {
        var lines = new StringBuilder();
        void Line(string field, string value) => lines.Append(field).Append('=').Append(value).Append('\n');
        static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
        static string Real(double value) => "0x" + BitConverter.DoubleToInt64Bits(value).ToString("X16", CultureInfo.InvariantCulture);

        Line("Name", spec.Name);
        Line("Vocab", Int(spec.Vocab));
        Line("Hidden", Int(spec.Hidden));
        Line("Heads", Int(spec.Heads));
        Line("KvHeads", Int(spec.KvHeads));
        Line("HeadDim", Int(spec.HeadDim));
        Line("Layers", Int(spec.Layers));
        Line("ContextLength", Int(spec.ContextLength));
        Line("NormEps", Real(spec.NormEps));
        Line("RopeTheta", Real(spec.RopeTheta));
        Line("AttentionScale", Int(spec.AttentionScale));
        Line("TiedEmbeddings", spec.TiedEmbeddings ? "1" : "0");
        Line("FfnKind", Int(spec.FfnKind));
        Line("Ffn", Int(spec.Ffn));
        Line("MoeLayerRule", Int(spec.MoeLayerRule));
        Line("MoeLayerParameter", Int(spec.MoeLayerParameter));
        Line("Experts", Int(spec.Experts));
        Line("TopK", Int(spec.TopK));
        Line("ExpertFfn", Int(spec.ExpertFfn));
        Line("SharedExpertKind", Int(spec.SharedExpertKind));
        Line("SharedExperts", Int(spec.SharedExperts));
        Line("SharedExpertFfn", Int(spec.SharedExpertFfn));
        Line("Gating", Int(spec.Gating));
        Line("CapacityRule", Int(spec.CapacityRule));
        Line("TrainCapacityFactor", Real(spec.TrainCapacityFactor));
        Line("EvalCapacityFactor", Real(spec.EvalCapacityFactor));
        Line("MinCapacity", Int(spec.MinCapacity));
        // Listed only when not at their default (see OpenMoE.Model.Specs.SpecHashing).
        if (spec.RoutingRule != 0) Line("RoutingRule", Int(spec.RoutingRule));
        if (spec.RouterScoring != 0) Line("RouterScoring", Int(spec.RouterScoring));
        if (spec.DropPolicy != 0) Line("DropPolicy", Int(spec.DropPolicy));
        if (spec.ExpertBias) Line("ExpertBias", "1");
        if (spec.BiasUpdateRate != 0.001) Line("BiasUpdateRate", Real(spec.BiasUpdateRate));
        if (spec.ExpertGroups != 1) Line("ExpertGroups", Int(spec.ExpertGroups));
        if (spec.TopGroups != 1) Line("TopGroups", Int(spec.TopGroups));

        const ulong offsetBasis = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offsetBasis;
        foreach (var b in Encoding.UTF8.GetBytes(lines.ToString()))
        {
            hash = unchecked((hash ^ b) * prime);
        }
        return hash.ToString("X16", CultureInfo.InvariantCulture);
    }
}
