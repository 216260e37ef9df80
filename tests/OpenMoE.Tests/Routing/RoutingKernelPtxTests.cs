using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OpenMoE.Kernels.Routing;

namespace OpenMoE.Tests.Routing;

/// <summary>Every routing kernel compiles to PTX (sm_80) without a GPU, so CUDA breakage shows in CI.</summary>
public class RoutingKernelPtxTests
{
    public static TheoryData<string, string> Kernels => new()
    {
        { nameof(RouterSoftmaxTopKKernel), nameof(RouterSoftmaxTopKKernel.Kernel) },
        { nameof(RoutingVisitOrderKernel), nameof(RoutingVisitOrderKernel.Kernel) },
        { nameof(ExpertSlotKernels), nameof(ExpertSlotKernels.CountKernel) },
        { nameof(ExpertSlotKernels), nameof(ExpertSlotKernels.ScanKernel) },
        { nameof(ExpertSlotKernels), nameof(ExpertSlotKernels.AssignKernel) },
        { nameof(DispatchListKernels), nameof(DispatchListKernels.OffsetsKernel) },
        { nameof(DispatchListKernels), nameof(DispatchListKernels.FillKernel) },
        { nameof(RouterLossKernels), nameof(RouterLossKernels.ExpertLoadKernel) },
        { nameof(RouterLossKernels), nameof(RouterLossKernels.GradientKernel) },
        { nameof(ProbabilityDropKernels), nameof(ProbabilityDropKernels.RankKernel) },
        { nameof(ProbabilityDropKernels), nameof(ProbabilityDropKernels.ClampKeptKernel) },
        { nameof(RoutingReplayKernel), nameof(RoutingReplayKernel.Kernel) },
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Routing_kernel_compiles_to_ptx(string type, string method)
    {
        var kernel = typeof(RouterSoftmaxTopKKernel).Assembly.GetType($"OpenMoE.Kernels.Routing.{type}")!
            .GetMethod(method, BindingFlags.Public | BindingFlags.Static)!;
        // A fresh context per kernel: a failed compilation poisons its context (DESIGN §3).
        using var context = Context.Create(builder => builder.EnableAlgorithms());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80),
            CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, default(KernelSpecialization));
        Assert.Contains(".entry", compiled.PTXAssembly);
    }
}
