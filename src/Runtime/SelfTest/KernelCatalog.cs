using System.Reflection;
using ILGPU;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>A kernel entry point as ILGPU compiles it (generic kernels closed over <see cref="SelfTestDims"/>).</summary>
public sealed record KernelEntryPoint(string Name, MethodInfo Method);

/// <summary>
/// The central list of kernels and their checks. Entry points are discovered from the kernels
/// assembly (every public static void method taking an <see cref="ArrayView{T}"/>), so a new
/// kernel is PTX-compiled without registration; a test requires each kernel class to be named
/// by some check's <see cref="KernelCheck"/> list. Another area adds its checks by appending
/// its list to <see cref="Checks"/>.
/// </summary>
public static class KernelCatalog
{
    /// <summary>Every kernel-vs-reference check, all areas.</summary>
    public static IReadOnlyList<KernelCheck> Checks { get; } = [.. CoreKernelChecks.All, .. GemmKernelChecks.All, .. BackwardKernelChecks.All, .. OptimizerKernelChecks.All];

    /// <summary>
    /// Every kernel entry point: all of the kernels assembly (src/Kernels, routing included), found
    /// by reflection. An ILGPU kernel kept in another assembly (e.g. a portable GEMM kernel in
    /// src/Runtime) is appended here explicitly so the PTX test compiles it too.
    /// </summary>
    public static IReadOnlyList<KernelEntryPoint> EntryPoints { get; } = [.. Discover(typeof(IModelDims).Assembly)];

    /// <summary>Kernel classes (declaring types of <see cref="EntryPoints"/>) that none of <paramref name="checks"/> names.</summary>
    public static IReadOnlyList<Type> UncheckedKernelTypes(IEnumerable<KernelCheck> checks)
    {
        var covered = checks.SelectMany(check => check.Covers).ToHashSet();
        return EntryPoints.Select(entry => entry.Method.DeclaringType!).Distinct()
            .Where(type => !covered.Contains(type)).ToList();
    }

    private static List<KernelEntryPoint> Discover(Assembly assembly)
    {
        var entries = new List<KernelEntryPoint>();
        foreach (var type in assembly.GetExportedTypes().Where(t => t.IsAbstract && t.IsSealed).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Static).OrderBy(m => m.ToString(), StringComparer.Ordinal))
            {
                bool takesView = method.GetParameters().Any(p => p.ParameterType.IsGenericType
                    && p.ParameterType.GetGenericTypeDefinition() == typeof(ArrayView<>));
                if (method.ReturnType != typeof(void) || !takesView)
                    continue;
                var closed = method.IsGenericMethodDefinition ? method.MakeGenericMethod(typeof(SelfTestDims)) : method;
                string suffix = method.IsGenericMethodDefinition ? "<TDims>" : "";
                entries.Add(new KernelEntryPoint($"{type.Name}.{method.Name}{suffix}", closed));
            }
        }
        return entries;
    }
}
