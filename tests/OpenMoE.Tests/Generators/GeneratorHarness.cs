using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OpenMoE.Generators;

namespace OpenMoE.Tests.Generators;

/// <summary>Runs <see cref="ModelSpecGenerator"/> over in-memory sources, as the compiler would.</summary>
internal static class GeneratorHarness
{
    public const string AssemblyName = "SpecTests";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly CSharpCompilationOptions Options = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        generalDiagnosticOption: ReportDiagnostic.Default);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path) is var name
                && (name.StartsWith("System.", StringComparison.Ordinal) || name is "System.dll" or "netstandard.dll" or "mscorlib.dll"));
        var ours = new[] { typeof(OpenMoE.Model.Specs.ModelConfig).Assembly.Location, typeof(OpenMoE.Kernels.IModelDims).Assembly.Location };
        return [.. framework.Concat(ours).Distinct().Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))];
    });

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create(
        AssemblyName,
        sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"Spec{i}.cs")),
        References.Value,
        Options);

    public static GeneratorDriver Driver(bool trackSteps = false) => CSharpGeneratorDriver.Create(
        [new ModelSpecGenerator().AsSourceGenerator()],
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackSteps));

    /// <summary>Runs the generator once; returns the compilation with the generated sources and the run result.</summary>
    public static (Compilation Output, GeneratorDriverRunResult Result) Run(params string[] sources)
    {
        var driver = Driver().RunGeneratorsAndUpdateCompilation(Compilation(sources), out var output, out _);
        return (output, driver.GetRunResult());
    }

    /// <summary>A valid OpenMoE-family spec body; tests override one property to break one rule.</summary>
    public static string Spec(string extra = "", string name = "Test-Spec", string type = "TestSpec", string modifiers = "public partial", string attributes = "") => $$"""
        using OpenMoE.Model.Specs;

        namespace Demo;

        [ModelSpec("{{name}}", Vocab = 512, Hidden = 64, Heads = 4, HeadDim = 16, Layers = 4, Ffn = 128,
            MoeLayerParameter = 2, Experts = 8{{extra}})]
        {{attributes}}
        {{modifiers}} class {{type}};
        """;
}
