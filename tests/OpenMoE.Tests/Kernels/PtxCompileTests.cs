using OpenMoE.Runtime.SelfTest;
using OpenMoE.Runtime.Ptx;

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
        string ptx = PtxCompiler.Compile(entry.Method, PtxTarget.Sm80);
        Assert.Contains(".target sm_80", ptx);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".extern .func", ptx);
    }
}
