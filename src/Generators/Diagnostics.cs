using Microsoft.CodeAnalysis;

namespace OpenMoE.Generators;

/// <summary>Every diagnostic the spec generator reports. Ids are stable: never renumber or reuse one.</summary>
internal static class Diagnostics
{
    private const string Category = "OpenMoE.Specs";

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = Error(
        "OMOE001", "Model spec type must be partial",
        "Model spec type '{0}' must be declared 'partial' so the generator can add Config, Dims and the parameter table");

    public static readonly DiagnosticDescriptor NotTopLevel = Error(
        "OMOE002", "Model spec type must be a top-level, non-generic class",
        "Model spec type '{0}' must be a top-level, non-generic class, but {1}");

    public static readonly DiagnosticDescriptor InvalidName = Error(
        "OMOE003", "Invalid model spec name",
        "Model spec name '{0}' is invalid; use a non-empty name made of letters, digits and '-', '_', '.', '/' (e.g. \"OpenMoE-Base/16E\")");

    public static readonly DiagnosticDescriptor DuplicateName = Error(
        "OMOE004", "Duplicate model spec name",
        "Model spec name '{0}' is also used by '{1}' (names compare case-insensitively); give each spec its own name");

    public static readonly DiagnosticDescriptor SizeOutOfRange = Error(
        "OMOE005", "Model size out of range",
        "'{0}' is {1}; set it to {2}");

    public static readonly DiagnosticDescriptor TopKExceedsExperts = Error(
        "OMOE006", "Top-k exceeds the number of experts",
        "TopK is {0} but there are only {1} experts; set TopK <= Experts");

    public static readonly DiagnosticDescriptor OddHeadDim = Error(
        "OMOE007", "Head dimension must be even",
        "HeadDim is {0}; RoPE rotates pairs of dimensions, so set an even HeadDim");

    public static readonly DiagnosticDescriptor HeadsNotDivisible = Error(
        "OMOE008", "Heads not divisible by key/value heads",
        "Heads ({0}) must be a multiple of KvHeads ({1}); pick KvHeads that divides Heads");

    public static readonly DiagnosticDescriptor InvalidMoeLayerParameter = Error(
        "OMOE009", "Invalid MoE layer parameter",
        "MoeLayerParameter is {0}, which is invalid for MoeLayerRule.{1}; {2}");

    public static readonly DiagnosticDescriptor NoMoeLayer = Error(
        "OMOE010", "Spec has no MoE layer",
        "With {0} layers, MoeLayerRule.{1} and MoeLayerParameter {2} no layer is a MoE layer; lower MoeLayerParameter or add layers");

    public static readonly DiagnosticDescriptor NonPositiveCapacityFactor = Error(
        "OMOE011", "Capacity factor must be positive",
        "'{0}' is {1}; set a positive, finite capacity factor (OpenMoE: 1.25 in training, 2.0 in evaluation)");

    public static readonly DiagnosticDescriptor NegativeMinCapacity = Error(
        "OMOE012", "Minimum capacity must not be negative",
        "MinCapacity is {0}; set it to 0 or more (OpenMoE: 4)");

    public static readonly DiagnosticDescriptor SharedExpertMismatch = Error(
        "OMOE013", "Shared expert kind and count disagree",
        "SharedExpertKind.{0} with SharedExperts = {1}; {2}");

    public static readonly DiagnosticDescriptor UnknownEnumValue = Error(
        "OMOE014", "Unknown enum value",
        "'{0}' has the value {1}, which is not a defined {0}; use one of: {2}");

    public static readonly DiagnosticDescriptor InvalidReal = Error(
        "OMOE015", "Norm epsilon and RoPE theta must be positive",
        "'{0}' is {1}; set a positive, finite value (OpenMoE: NormEps 1e-6, RopeTheta 10000)");

    public static readonly DiagnosticDescriptor UnsupportedCombination = Error(
        "OMOE016", "Unsupported FFN and shared expert combination",
        "FfnKind.{0} with SharedExpertKind.{1} has no checkpoint layout; {2}");

    public static readonly DiagnosticDescriptor InvalidPaperFigures = Error(
        "OMOE017", "Invalid paper figures",
        "PaperFigures has total {0} and activated {1}; both must be positive, activated <= total, with a non-empty source");

    public static readonly DiagnosticDescriptor InvalidExpertGroups = Error(
        "OMOE018", "Invalid group-limited routing",
        "ExpertGroups = {0}, TopGroups = {1} with {2} experts and TopK = {3}; {4}");

    public static readonly DiagnosticDescriptor InvalidExpertChoice = Error(
        "OMOE019", "Expert choice combined with a token-choice option",
        "RoutingRule.ExpertChoice cannot be combined with {0}; {1}");

    public static readonly DiagnosticDescriptor InvalidBiasUpdateRate = Error(
        "OMOE020", "Bias update rate must be positive",
        "BiasUpdateRate is {0}; set a positive, finite rate (DeepSeek-V3: 0.001)");

    public static readonly DiagnosticDescriptor DenseSpecWithExperts = Error(
        "OMOE021", "Dense spec declares routed or shared experts",
        "MoeLayerRule.Dense has no MoE layer, but {0} is {1}; set {0} = {2} (a dense spec is the dense stage of upcycling: every layer is one FFN of width Ffn)");
}
