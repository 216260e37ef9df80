using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace OpenMoE.Generators;

/// <summary>Mirror of OpenMoE.Model.Specs enums (same values; the generator cannot reference the Model assembly).</summary>
internal static class EnumNames
{
    public static readonly string[] AttentionScale = { "None", "InverseSqrtHeadDim" };
    public static readonly string[] FfnKind = { "OpenMoEGated", "SwiGlu" };
    public static readonly string[] MoeLayerRule = { "EveryN", "FirstKDense", "Dense" };
    public static readonly string[] SharedExpertKind = { "None", "SequentialExtraFfn", "ParallelShared" };
    public static readonly string[] Gating = { "RawSoftmax", "RenormalizedTopK" };
    public static readonly string[] CapacityRule = { "T5x", "Cai", "Dropless" };
    public static readonly string[] RoutingRule = { "TokenChoice", "ExpertChoice" };
    public static readonly string[] RouterScoring = { "Softmax", "Sigmoid" };
    public static readonly string[] DropPolicy = { "ByPosition", "ByProbability" };

    public const int FfnOpenMoEGated = 0;
    public const int RuleEveryN = 0;
    public const int RuleFirstKDense = 1;
    public const int RuleDense = 2;
    public const int SharedNone = 0;
    public const int SharedSequentialExtraFfn = 1;
    public const int SharedParallel = 2;
    public const int GatingRenormalized = 1;
    public const int CapacityT5x = 0;
    public const int RuleExpertChoice = 1;
    public const int MaxExpertGroups = 32;
}

/// <summary>Where a diagnostic points, without holding a syntax tree (so models stay cacheable).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null
            ? null
            : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic waiting to be reported: descriptor, location and message arguments.</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic() => Diagnostic.Create(Descriptor, Location?.ToLocation(), MessageArgs());

    private object[] MessageArgs()
    {
        var args = new object[Arguments.Count];
        for (var i = 0; i < args.Length; i++)
        {
            args[i] = Arguments[i];
        }
        return args;
    }
}

/// <summary>
/// Every config field of one spec with defaults resolved, plus where it was declared. Plain values
/// only: no symbols or syntax, so equal specs compare equal across compilations.
/// </summary>
internal sealed record SpecModel(
    string Namespace,
    string TypeName,
    string Name,
    int Vocab,
    int Hidden,
    int Heads,
    int KvHeads,
    int HeadDim,
    int Layers,
    int ContextLength,
    double NormEps,
    double RopeTheta,
    int AttentionScale,
    bool TiedEmbeddings,
    int FfnKind,
    int Ffn,
    int MoeLayerRule,
    int MoeLayerParameter,
    int Experts,
    int TopK,
    int ExpertFfn,
    int SharedExpertKind,
    int SharedExperts,
    int SharedExpertFfn,
    int Gating,
    int CapacityRule,
    double TrainCapacityFactor,
    double EvalCapacityFactor,
    int MinCapacity,
    int RoutingRule,
    int RouterScoring,
    int DropPolicy,
    bool ExpertBias,
    double BiasUpdateRate,
    int ExpertGroups,
    int TopGroups,
    PaperFiguresModel? PaperFigures)
{
    /// <summary>The type's name as seen from anywhere: <c>global::Ns.Type</c>.</summary>
    public string FullyQualifiedTypeName =>
        Namespace.Length == 0 ? "global::" + TypeName : "global::" + Namespace + "." + TypeName;

    public bool IsMoeLayer(int layer) => MoeLayerRule switch
    {
        EnumNames.RuleEveryN => (layer + 1) % MoeLayerParameter == 0,
        EnumNames.RuleFirstKDense => layer >= MoeLayerParameter,
        _ => false,
    };
}

/// <summary>Published parameter counts for a spec.</summary>
internal sealed record PaperFiguresModel(long TotalParams, long ActivatedParams, string Source);

/// <summary>What the parser found for one attributed type: a valid spec, or the reasons it is not.</summary>
internal sealed record ParsedSpec(SpecModel? Spec, string Name, LocationInfo? Location, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>One registry entry; duplicates are detected over all of them.</summary>
internal sealed record RegistryEntry(string Name, string FullyQualifiedTypeName, LocationInfo? Location);
