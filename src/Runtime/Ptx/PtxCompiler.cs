using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace OpenMoE.Runtime.Ptx;

/// <summary>Headless PTX generation (no GPU, no driver): ILGPU's PTX backend with a capability context for the target.</summary>
public static class PtxCompiler
{
    /// <summary>
    /// The PTX assembly of one kernel entry point. A fresh context per kernel, since a failed
    /// compile poisons it.
    /// </summary>
    public static string Compile(MethodInfo kernel, PtxTarget target)
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(target.Architecture),
            target.Architecture, target.InstructionSet, nvvmAPI: null);
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
