using OpenMoE.Runtime.SelfTest;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OpenMoE.Runtime.Kernels;

namespace OpenMoE.Tests.Kernels;

/// <summary>
/// Compiles every kernel to PTX for sm_80 without a GPU, so CUDA breakage (unsupported BCL
/// calls, missing intrinsics) shows up on any machine.
/// </summary>
public class PtxCompileTests
{
    public static TheoryData<string> KernelNames() => [.. KernelCatalog.EntryPoints.Select(entry => entry.Name)];

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_compiles_to_ptx_for_sm80_without_unresolved_externals(string name)
    {
        var entry = KernelCatalog.EntryPoints.Single(e => e.Name == name);
        string ptx = PtxCompiler.Compile(entry.Method);
        Assert.Contains(".target sm_80", ptx);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".extern .func", ptx);
    }
}

/// <summary>Headless PTX generation: a fresh context per kernel, since a failed compile poisons it.</summary>
internal static class PtxCompiler
{
    public static string Compile(System.Reflection.MethodInfo kernel)
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80),
            CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, nvvmAPI: null);
        // Auto-grouped kernels take an index as their first parameter; ours are explicitly grouped.
        var first = kernel.GetParameters().FirstOrDefault()?.ParameterType;
        bool implicitlyGrouped = first is not null && typeof(IIndex).IsAssignableFrom(first);
        var description = implicitlyGrouped
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)backend.Compile(description, KernelSpecialization.Empty);
        return compiled.PTXAssembly;
    }
}
