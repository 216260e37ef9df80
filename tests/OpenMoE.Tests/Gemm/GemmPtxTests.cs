using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Tests.Gemm;

/// <summary>The tiled GEMM kernel compiles to sm_80 PTX without a GPU, with nothing left unresolved.</summary>
public sealed class GemmPtxTests
{
    [Fact]
    public void Tiled_kernel_compiles_to_sm80_ptx()
    {
        // A fresh context: a kernel that fails to compile poisons the context it used.
        using var context = Context.Create(builder => builder.EnableAlgorithms());
        var arch = CudaArchitecture.SM_80;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_80, nvvmAPI: null);
        var method = typeof(GemmTiledKernel).GetMethod(nameof(GemmTiledKernel.Kernel))!;
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = Assert.IsType<PTXCompiledKernel>(backend.Compile(entry, KernelSpecialization.Empty));
        var ptx = compiled.PTXAssembly;
        Assert.Contains(".target sm_80", ptx);
        Assert.Contains(".shared", ptx);
        Assert.Contains("bar.sync", ptx);
        Assert.DoesNotContain(".extern .func", ptx);
    }
}
