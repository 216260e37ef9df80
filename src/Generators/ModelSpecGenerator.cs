using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OpenMoE.Generators;

/// <summary>
/// Turns every <c>[ModelSpec]</c> partial class into typed model code (config, dims struct,
/// parameter table, exact counts, spec hash) and one <c>ModelSpecs</c> registry per assembly.
/// Pipeline: <see cref="SpecParser"/> (symbols -> plain models) -> <see cref="SpecEmitter"/> /
/// <see cref="RegistryEmitter"/> (models -> text).
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelSpecGenerator : IIncrementalGenerator
{
    /// <summary>Metadata name of the spec attribute.</summary>
    public const string AttributeName = "OpenMoE.Model.Specs.ModelSpecAttribute";

    /// <summary>Tracking name of the per-spec parse step (for incremental-caching tests).</summary>
    public const string ParseStep = "ParsedSpecs";

    /// <summary>Tracking name of the registry step (all specs plus the assembly name).</summary>
    public const string RegistryStep = "SpecRegistry";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                static (node, _) => node is TypeDeclarationSyntax,
                SpecParser.Parse)
            .Where(static p => p is not null)
            .Select(static (p, _) => p!)
            .WithTrackingName(ParseStep);

        context.RegisterSourceOutput(parsed, static (output, spec) =>
        {
            foreach (var diagnostic in spec.Diagnostics)
            {
                output.ReportDiagnostic(diagnostic.ToDiagnostic());
            }
            if (spec.Spec is { } valid)
            {
                output.AddSource(SpecEmitter.HintName(valid), SpecEmitter.Emit(valid));
            }
        });

        var assemblyName = context.CompilationProvider.Select(static (c, _) => c.AssemblyName ?? "Specs");
        var registry = parsed
            .Select(static (p, _) => p.Spec is { } s ? new RegistryEntry(s.Name, s.FullyQualifiedTypeName, p.Location) : null)
            .Where(static e => e is not null)
            .Select(static (e, _) => e!)
            .Collect()
            .Select(static (entries, _) => new EquatableArray<RegistryEntry>(entries))
            .Combine(assemblyName)
            .WithTrackingName(RegistryStep);

        context.RegisterSourceOutput(registry, static (output, input) =>
        {
            var (entries, assembly) = input;
            foreach (var duplicate in Duplicates(entries))
            {
                output.ReportDiagnostic(duplicate.ToDiagnostic());
            }
            if (entries.Count > 0)
            {
                output.AddSource(RegistryEmitter.HintName, RegistryEmitter.Emit(assembly, entries));
            }
        });
    }

    private static IEnumerable<DiagnosticInfo> Duplicates(EquatableArray<RegistryEntry> entries)
    {
        var first = new Dictionary<string, RegistryEntry>(System.StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries.OrderBy(e => e.FullyQualifiedTypeName, System.StringComparer.Ordinal))
        {
            if (first.TryGetValue(entry.Name, out var earlier))
            {
                yield return new DiagnosticInfo(Diagnostics.DuplicateName, entry.Location,
                    new EquatableArray<string>(ImmutableArray.Create(entry.Name, earlier.FullyQualifiedTypeName.Replace("global::", string.Empty))));
            }
            else
            {
                first.Add(entry.Name, entry);
            }
        }
    }
}
