using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace OpenMoE.Generators;

/// <summary>The spec invariants. Each broken one becomes an OMOE diagnostic that says what to change.</summary>
internal static class SpecValidator
{
    public static IEnumerable<DiagnosticInfo> Validate(SpecModel spec, LocationInfo? location)
    {
        var found = new List<DiagnosticInfo>();
        void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, params string[] args) =>
            found.Add(new DiagnosticInfo(descriptor, location, new EquatableArray<string>(args)));

        if (!NameIsValid(spec.Name))
        {
            Report(Diagnostics.InvalidName, spec.Name);
        }

        var enumsOk = CheckEnum("AttentionScale", spec.AttentionScale, EnumNames.AttentionScale, Report)
            & CheckEnum("FfnKind", spec.FfnKind, EnumNames.FfnKind, Report)
            & CheckEnum("MoeLayerRule", spec.MoeLayerRule, EnumNames.MoeLayerRule, Report)
            & CheckEnum("SharedExpertKind", spec.SharedExpertKind, EnumNames.SharedExpertKind, Report)
            & CheckEnum("Gating", spec.Gating, EnumNames.Gating, Report)
            & CheckEnum("CapacityRule", spec.CapacityRule, EnumNames.CapacityRule, Report)
            & CheckEnum("RoutingRule", spec.RoutingRule, EnumNames.RoutingRule, Report)
            & CheckEnum("RouterScoring", spec.RouterScoring, EnumNames.RouterScoring, Report)
            & CheckEnum("DropPolicy", spec.DropPolicy, EnumNames.DropPolicy, Report);

        var sizes = new (string Field, int Value)[]
        {
            ("Vocab", spec.Vocab), ("Hidden", spec.Hidden), ("Heads", spec.Heads), ("KvHeads", spec.KvHeads),
            ("HeadDim", spec.HeadDim), ("Layers", spec.Layers), ("ContextLength", spec.ContextLength),
            ("Ffn", spec.Ffn), ("Experts", spec.Experts), ("TopK", spec.TopK), ("ExpertFfn", spec.ExpertFfn),
        };
        var sizesOk = true;
        foreach (var (field, value) in sizes.Where(s => s.Value < 1))
        {
            Report(Diagnostics.SizeOutOfRange, field, Text(value), "a positive number");
            sizesOk = false;
        }
        if (spec.SharedExperts < 0)
        {
            Report(Diagnostics.SizeOutOfRange, "SharedExperts", Text(spec.SharedExperts), "0 or more (or leave it unset)");
            sizesOk = false;
        }
        else if (spec.SharedExperts > 0 && spec.SharedExpertKind != EnumNames.SharedNone && spec.SharedExpertFfn < 1)
        {
            Report(Diagnostics.SizeOutOfRange, "SharedExpertFfn", Text(spec.SharedExpertFfn), "a positive number (or 0 to derive it)");
            sizesOk = false;
        }

        if (spec.Experts >= 1 && spec.TopK > spec.Experts)
        {
            Report(Diagnostics.TopKExceedsExperts, Text(spec.TopK), Text(spec.Experts));
        }
        if (spec.HeadDim >= 1 && spec.HeadDim % 2 != 0)
        {
            Report(Diagnostics.OddHeadDim, Text(spec.HeadDim));
        }
        if (spec.Heads >= 1 && spec.KvHeads >= 1 && spec.Heads % spec.KvHeads != 0)
        {
            Report(Diagnostics.HeadsNotDivisible, Text(spec.Heads), Text(spec.KvHeads));
        }

        if (enumsOk)
        {
            CheckMoeLayers(spec, sizesOk, Report);
            CheckSharedExperts(spec, Report);
            if (sizesOk)
            {
                CheckRouting(spec, Report);
            }
        }

        CheckCapacityFactor("TrainCapacityFactor", spec.TrainCapacityFactor, Report);
        CheckCapacityFactor("EvalCapacityFactor", spec.EvalCapacityFactor, Report);
        if (spec.MinCapacity < 0)
        {
            Report(Diagnostics.NegativeMinCapacity, Text(spec.MinCapacity));
        }
        CheckReal("NormEps", spec.NormEps, Report);
        CheckReal("RopeTheta", spec.RopeTheta, Report);
        return found;
    }

    public static bool PaperFiguresAreValid(PaperFiguresModel figures) =>
        figures.TotalParams > 0 && figures.ActivatedParams > 0 && figures.ActivatedParams <= figures.TotalParams
        && figures.Source.Trim().Length > 0;

    public static bool NameIsValid(string name) =>
        name.Length > 0 && name.All(c => (c < 128 && char.IsLetterOrDigit(c)) || c is '-' or '_' or '.' or '/');

    private static void CheckMoeLayers(SpecModel spec, bool sizesOk, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        var rule = EnumNames.MoeLayerRule[spec.MoeLayerRule];
        if (spec.MoeLayerRule == EnumNames.RuleDense)
        {
            CheckDense(spec, report);
            return;
        }
        if (spec.MoeLayerRule == EnumNames.RuleEveryN && spec.MoeLayerParameter < 1)
        {
            report(Diagnostics.InvalidMoeLayerParameter, new[] { Text(spec.MoeLayerParameter), rule,
                "set the interval N >= 1 (layer i is MoE iff (i + 1) % N == 0; OpenMoE-Base uses 4)" });
            return;
        }
        if (spec.MoeLayerRule == EnumNames.RuleFirstKDense && spec.MoeLayerParameter < 0)
        {
            report(Diagnostics.InvalidMoeLayerParameter, new[] { Text(spec.MoeLayerParameter), rule,
                "set the number of leading dense layers K >= 0 (Mixtral: 0, DeepSeekMoE: 1)" });
            return;
        }
        if (sizesOk && !Enumerable.Range(0, spec.Layers).Any(spec.IsMoeLayer))
        {
            report(Diagnostics.NoMoeLayer, new[] { Text(spec.Layers), rule, Text(spec.MoeLayerParameter) });
        }
    }

    // A dense spec keeps the MoE fields (they are part of the config and its hash), so they are pinned to
    // the one value that means "no routing": otherwise two dense specs of equal shape could differ in
    // fields that change nothing, and a reader would look for experts that do not exist.
    private static void CheckDense(SpecModel spec, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        var pinned = new (string Field, string Value, string Required, bool Ok)[]
        {
            ("MoeLayerParameter", Text(spec.MoeLayerParameter), "0", spec.MoeLayerParameter == 0),
            ("Experts", Text(spec.Experts), "1", spec.Experts == 1),
            ("TopK", Text(spec.TopK), "1", spec.TopK == 1),
            ("SharedExpertKind", EnumNames.SharedExpertKind[spec.SharedExpertKind], "SharedExpertKind.None", spec.SharedExpertKind == EnumNames.SharedNone),
        };
        foreach (var (field, value, required, _) in pinned.Where(p => !p.Ok))
        {
            report(Diagnostics.DenseSpecWithExperts, new[] { field, value, required });
        }
    }

    private static void CheckSharedExperts(SpecModel spec, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        var kind = EnumNames.SharedExpertKind[spec.SharedExpertKind];
        var count = Text(spec.SharedExperts);
        if (spec.SharedExpertKind == EnumNames.SharedNone && spec.SharedExperts > 0)
        {
            report(Diagnostics.SharedExpertMismatch, new[] { kind, count, "set SharedExperts = 0 or choose a shared expert kind" });
        }
        else if (spec.SharedExpertKind != EnumNames.SharedNone && spec.SharedExperts == 0)
        {
            report(Diagnostics.SharedExpertMismatch, new[] { kind, count, "set SharedExperts >= 1 or SharedExpertKind = None" });
        }
        else if (spec.SharedExpertKind == EnumNames.SharedSequentialExtraFfn && spec.SharedExperts > 1)
        {
            report(Diagnostics.SharedExpertMismatch, new[] { kind, count, "OpenMoE has exactly one extra FFN: set SharedExperts = 1" });
        }

        var ffn = EnumNames.FfnKind[spec.FfnKind];
        if (spec.FfnKind == EnumNames.FfnOpenMoEGated && spec.SharedExpertKind == EnumNames.SharedParallel)
        {
            report(Diagnostics.UnsupportedCombination, new[] { ffn, kind, "OpenMoE's gated FFN pairs with SharedExpertKind None or SequentialExtraFfn" });
        }
        else if (spec.FfnKind != EnumNames.FfnOpenMoEGated && spec.SharedExpertKind == EnumNames.SharedSequentialExtraFfn)
        {
            report(Diagnostics.UnsupportedCombination, new[] { ffn, kind, "SwiGLU specs pair with SharedExpertKind None (Mixtral) or ParallelShared (DeepSeekMoE)" });
        }
    }

    private static void CheckRouting(SpecModel spec, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        string? groupProblem =
            spec.ExpertGroups < 1 || spec.ExpertGroups > EnumNames.MaxExpertGroups ? "set ExpertGroups in 1..32 (1 = no grouping)"
            : spec.Experts % spec.ExpertGroups != 0 ? "pick ExpertGroups that divides Experts"
            : spec.TopGroups < 1 || spec.TopGroups > spec.ExpertGroups ? "set TopGroups in 1..ExpertGroups"
            : spec.RoutingRule != EnumNames.RuleExpertChoice && spec.TopK <= spec.Experts && spec.TopK > spec.TopGroups * (spec.Experts / spec.ExpertGroups)
                ? "the chosen groups hold fewer than TopK experts: raise TopGroups or lower TopK"
            : null;
        if (groupProblem is not null)
        {
            report(Diagnostics.InvalidExpertGroups, new[] { Text(spec.ExpertGroups), Text(spec.TopGroups), Text(spec.Experts), Text(spec.TopK), groupProblem });
        }
        if (spec.RoutingRule == EnumNames.RuleExpertChoice)
        {
            var clash = spec.ExpertBias ? ("ExpertBias", "the bias balances token choices; experts choosing tokens are balanced by construction")
                : spec.ExpertGroups != 1 ? ("ExpertGroups", "group limits restrict a token's choices; leave ExpertGroups = 1")
                : spec.Gating == EnumNames.GatingRenormalized ? ("Gating.RenormalizedTopK", "flaxformer combines with the raw probability: use Gating.RawSoftmax")
                : spec.CapacityRule != EnumNames.CapacityT5x ? ("CapacityRule." + EnumNames.CapacityRule[spec.CapacityRule], "expert choice takes C = round(cf * tokens / E) tokens per expert: use CapacityRule.T5x")
                : ((string, string)?)null;
            if (clash is { } c)
            {
                report(Diagnostics.InvalidExpertChoice, new[] { c.Item1, c.Item2 });
            }
        }
        if (spec.ExpertBias && (!(spec.BiasUpdateRate > 0) || double.IsInfinity(spec.BiasUpdateRate)))
        {
            report(Diagnostics.InvalidBiasUpdateRate, new[] { Text(spec.BiasUpdateRate) });
        }
    }

    private static bool CheckEnum(string field, int value, string[] names, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        if (value >= 0 && value < names.Length)
        {
            return true;
        }
        report(Diagnostics.UnknownEnumValue, new[] { field, Text(value), string.Join(", ", names) });
        return false;
    }

    private static void CheckCapacityFactor(string field, double value, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        if (!(value > 0) || double.IsInfinity(value))
        {
            report(Diagnostics.NonPositiveCapacityFactor, new[] { field, Text(value) });
        }
    }

    private static void CheckReal(string field, double value, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, string[]> report)
    {
        if (!(value > 0) || double.IsInfinity(value))
        {
            report(Diagnostics.InvalidReal, new[] { field, Text(value) });
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
