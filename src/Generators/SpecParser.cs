using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OpenMoE.Generators;

/// <summary>Turns one <c>[ModelSpec]</c> type into a plain <see cref="ParsedSpec"/> (no symbols leave this class).</summary>
internal static class SpecParser
{
    public const string PaperFiguresAttributeName = "OpenMoE.Model.Specs.PaperFiguresAttribute";

    public static ParsedSpec? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type || context.TargetNode is not TypeDeclarationSyntax declaration)
        {
            return null;
        }
        var attribute = context.Attributes[0];
        if (HasErrors(attribute))
        {
            // The compiler already reports malformed attribute arguments.
            return null;
        }
        cancellationToken.ThrowIfCancellationRequested();

        var attributeLocation = LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation());
        var typeLocation = LocationInfo.From(declaration.Identifier.GetLocation());
        var name = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string ?? string.Empty : string.Empty;
        var diagnostics = new List<DiagnosticInfo>();

        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(Info(Diagnostics.NotPartial, typeLocation, type.Name));
        }
        var shapeProblem = declaration is not ClassDeclarationSyntax ? "it is declared as a " + declaration.Keyword.ValueText + (declaration is RecordDeclarationSyntax ? " (use 'partial class')" : string.Empty)
            : type.ContainingType is not null ? "it is nested in '" + type.ContainingType.Name + "' (move it to namespace level)"
            : type.TypeParameters.Length > 0 ? "it has type parameters (remove them)"
            : null;
        if (shapeProblem is not null)
        {
            diagnostics.Add(Info(Diagnostics.NotTopLevel, typeLocation, type.Name, shapeProblem));
        }

        var named = attribute.NamedArguments.ToDictionary(a => a.Key, a => a.Value.Value);
        var spec = ResolveDefaults(type, name, named, ReadPaperFigures(type));
        diagnostics.AddRange(SpecValidator.Validate(spec, attributeLocation));
        foreach (var paper in type.GetAttributes().Where(IsPaperFigures))
        {
            if (spec.PaperFigures is { } figures && !SpecValidator.PaperFiguresAreValid(figures))
            {
                diagnostics.Add(Info(Diagnostics.InvalidPaperFigures,
                    LocationInfo.From(paper.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation()),
                    figures.TotalParams.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    figures.ActivatedParams.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        return new ParsedSpec(
            diagnostics.Count == 0 ? spec : null,
            name,
            attributeLocation,
            new EquatableArray<DiagnosticInfo>(diagnostics));
    }

    private static SpecModel ResolveDefaults(INamedTypeSymbol type, string name, Dictionary<string, object?> named, PaperFiguresModel? paper)
    {
        int Int(string key, int fallback) => named.TryGetValue(key, out var v) && v is int i ? i : fallback;
        double Real(string key, double fallback) => named.TryGetValue(key, out var v) && v is double d ? d : fallback;
        bool Bool(string key, bool fallback) => named.TryGetValue(key, out var v) && v is bool b ? b : fallback;

        var heads = Int("Heads", 0);
        var ffn = Int("Ffn", 0);
        var expertFfn = Int("ExpertFfn", 0) == 0 ? ffn : Int("ExpertFfn", 0);
        var sharedKind = Int("SharedExpertKind", EnumNames.SharedSequentialExtraFfn);
        var sharedExperts = Int("SharedExperts", -1) == -1
            ? (sharedKind == EnumNames.SharedNone ? 0 : 1)
            : Int("SharedExperts", -1);
        var sharedFfn = Int("SharedExpertFfn", 0);
        if (sharedFfn == 0)
        {
            sharedFfn = sharedKind switch
            {
                EnumNames.SharedSequentialExtraFfn => ffn,
                EnumNames.SharedParallel => expertFfn,
                _ => 0,
            };
        }

        return new SpecModel(
            Namespace: type.ContainingNamespace.IsGlobalNamespace ? string.Empty : type.ContainingNamespace.ToDisplayString(),
            TypeName: type.Name,
            Name: name,
            Vocab: Int("Vocab", 0),
            Hidden: Int("Hidden", 0),
            Heads: heads,
            KvHeads: Int("KvHeads", 0) == 0 ? heads : Int("KvHeads", 0),
            HeadDim: Int("HeadDim", 0),
            Layers: Int("Layers", 0),
            ContextLength: Int("ContextLength", 2048),
            NormEps: Real("NormEps", 1e-6),
            RopeTheta: Real("RopeTheta", 10000.0),
            AttentionScale: Int("AttentionScale", 0),
            TiedEmbeddings: Bool("TiedEmbeddings", false),
            FfnKind: Int("FfnKind", EnumNames.FfnOpenMoEGated),
            Ffn: ffn,
            MoeLayerRule: Int("MoeLayerRule", EnumNames.RuleEveryN),
            MoeLayerParameter: Int("MoeLayerParameter", 0),
            Experts: Int("Experts", 0),
            TopK: Int("TopK", 2),
            ExpertFfn: expertFfn,
            SharedExpertKind: sharedKind,
            SharedExperts: sharedExperts,
            SharedExpertFfn: sharedFfn,
            Gating: Int("Gating", 0),
            CapacityRule: Int("CapacityRule", 0),
            TrainCapacityFactor: Real("TrainCapacityFactor", 1.25),
            EvalCapacityFactor: Real("EvalCapacityFactor", 2.0),
            MinCapacity: Int("MinCapacity", 4),
            RoutingRule: Int("RoutingRule", 0),
            RouterScoring: Int("RouterScoring", 0),
            DropPolicy: Int("DropPolicy", 0),
            ExpertBias: Bool("ExpertBias", false),
            BiasUpdateRate: Real("BiasUpdateRate", 0.001),
            ExpertGroups: Int("ExpertGroups", 1),
            TopGroups: Int("TopGroups", 1),
            PaperFigures: paper);
    }

    private static PaperFiguresModel? ReadPaperFigures(INamedTypeSymbol type)
    {
        var paper = type.GetAttributes().FirstOrDefault(IsPaperFigures);
        if (paper is null || paper.ConstructorArguments.Length != 3 || HasErrors(paper))
        {
            return null;
        }
        return new PaperFiguresModel(
            paper.ConstructorArguments[0].Value is long total ? total : 0,
            paper.ConstructorArguments[1].Value is long activated ? activated : 0,
            paper.ConstructorArguments[2].Value as string ?? string.Empty);
    }

    private static bool IsPaperFigures(AttributeData attribute) =>
        attribute.AttributeClass?.ToDisplayString() == PaperFiguresAttributeName;

    private static bool HasErrors(AttributeData attribute) =>
        attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
        || attribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error);

    private static DiagnosticInfo Info(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        new(descriptor, location, new EquatableArray<string>(args));
}
