using System.Text.RegularExpressions;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Architecture;

/// <summary>
/// The folders of src/ depend on each other one way only: the namespace graph (a file's namespace
/// to every OpenMoE namespace its code names, by using directive or qualified name, and to an
/// enclosing namespace whose types it uses without either) has no cycle, and
/// the assemblies keep the order Kernels &lt;- Runtime &lt;- Model &lt;- Training &lt;- Analysis &lt;- Cli.
/// </summary>
public sealed partial class DependencyDirectionTests
{
    private static readonly string[] AssemblyOrder = ["Kernels", "Runtime", "Model", "Training", "Analysis", "Cli"];

    [Fact]
    public void Namespaces_depend_on_each_other_without_cycles()
    {
        var graph = NamespaceGraph();
        Assert.True(graph.Count > 20, $"only {graph.Count} namespaces found: is src/ where the test looks?");
        var cycle = FindCycle(graph);
        Assert.True(cycle is null, $"namespace cycle: {string.Join(" -> ", cycle ?? [])}");
    }

    [Fact]
    public void Namespaces_only_use_their_own_or_lower_assemblies()
    {
        foreach (var (from, targets) in NamespaceGraph())
        {
            int level = Level(from);
            foreach (string to in targets)
                Assert.True(Level(to) <= level, $"{from} (assembly {AssemblyOrder[level]}) uses {to} (assembly {AssemblyOrder[Level(to)]}), a higher layer");
        }
    }

    [Fact]
    public void A_type_of_an_enclosing_namespace_used_without_a_using_is_an_edge()
    {
        var graph = NamespaceGraph([
            ("OpenMoE.Model.Outer", "namespace OpenMoE.Model.Outer; public sealed class RoutingThing;"),
            ("OpenMoE.Model.Outer.Inner", "namespace OpenMoE.Model.Outer.Inner; sealed class User { RoutingThing _thing; }"),
            ("OpenMoE.Model.Outer.Other", "namespace OpenMoE.Model.Outer.Other; sealed class Unrelated { int RoutingThings; }"),
        ]);
        Assert.Contains("OpenMoE.Model.Outer", graph["OpenMoE.Model.Outer.Inner"]);
        Assert.Empty(graph["OpenMoE.Model.Outer.Other"]);
    }

    [Fact]
    public void A_planted_cycle_is_found()
    {
        var graph = new Dictionary<string, HashSet<string>>
        {
            ["OpenMoE.Model.A"] = ["OpenMoE.Model.B"], ["OpenMoE.Model.B"] = ["OpenMoE.Model.C"], ["OpenMoE.Model.C"] = ["OpenMoE.Model.A"],
        };
        Assert.Equal(["OpenMoE.Model.A", "OpenMoE.Model.B", "OpenMoE.Model.C", "OpenMoE.Model.A"], FindCycle(graph));
    }

    /// <summary>The assembly a namespace lives in, by its second segment (Training's trainer is the root namespace OpenMoE.Training).</summary>
    private static int Level(string ns)
    {
        string assembly = ns.Split('.')[1];
        int level = Array.IndexOf(AssemblyOrder, assembly);
        Assert.True(level >= 0, $"{ns} belongs to no known assembly");
        return level;
    }

    private static Dictionary<string, HashSet<string>> NamespaceGraph() => NamespaceGraph(SourceFiles());

    /// <summary>Every source file of src/ (generators aside: they build separately) as its namespace and its code without comments.</summary>
    private static List<(string Namespace, string Code)> SourceFiles()
    {
        var files = new List<(string Namespace, string Code)>();
        foreach (string file in Directory.EnumerateFiles(RepositoryFiles.PathOf("src"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}Generators{Path.DirectorySeparatorChar}"))
                continue;
            // Comments may name other layers (a kernel's doc names its reference twin); they are no dependency.
            string code = LineComment().Replace(File.ReadAllText(file), "");
            var declared = NamespaceDeclaration().Match(code);
            if (declared.Success)
                files.Add((declared.Groups[1].Value, code));
        }
        return files;
    }

    private static Dictionary<string, HashSet<string>> NamespaceGraph(List<(string Namespace, string Code)> files)
    {
        var graph = files.Select(f => f.Namespace).Distinct().ToDictionary(ns => ns, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var typesByNamespace = files.GroupBy(f => f.Namespace)
            .ToDictionary(g => g.Key, g => g.SelectMany(f => TypeDeclaration().Matches(f.Code).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal));
        foreach (var (from, code) in files)
        {
            // A reference such as OpenMoE.Model.Network.MoeTransformer names a type: keep the longest declared namespace it starts with.
            foreach (Match reference in NamespaceReference().Matches(code))
            {
                if (Resolve(reference.Groups[1].Value, graph) is { } to && to != from)
                    graph[from].Add(to);
            }
            // C# lets a namespace use its enclosing namespaces' types with no using directive.
            for (string outer = from; outer.Contains('.'); )
            {
                outer = outer[..outer.LastIndexOf('.')];
                if (typesByNamespace.TryGetValue(outer, out var types) && types.Any(type => Regex.IsMatch(code, $@"\b{type}\b")))
                    graph[from].Add(outer);
            }
        }
        return graph;
    }

    private static string? Resolve(string reference, Dictionary<string, HashSet<string>> namespaces)
    {
        for (string candidate = reference; candidate.Contains('.'); candidate = candidate[..candidate.LastIndexOf('.')])
        {
            if (namespaces.ContainsKey(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>A cycle as a path that starts and ends at the same namespace, or null.</summary>
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the path, 2 done
        var path = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (string next in (graph.TryGetValue(node, out var targets) ? targets : []).Order(StringComparer.Ordinal))
            {
                if (state.GetValueOrDefault(next) == 1)
                    return [.. path.Skip(path.IndexOf(next)), next];
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                    return found;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (string node in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle)
                return cycle;
        }
        return null;
    }

    [GeneratedRegex(@"^namespace\s+(OpenMoE(?:\.\w+)+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"//.*$", RegexOptions.Multiline)]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\b(OpenMoE(?:\.[A-Z]\w*)+)")]
    private static partial Regex NamespaceReference();
}
