using OpenMoE.Runtime.Kernels;

namespace OpenMoE.Model.SelfTest;

/// <summary>
/// Every kernel check of the product: the runtime's (core ops, GEMM) plus routing, whose
/// reference twins live in the model layer. `openmoe selftest` and the kernel tests run this list.
/// </summary>
public static class SelfTestCatalog
{
    /// <summary>All checks, forward-pass order first.</summary>
    public static IReadOnlyList<KernelCheck> Checks { get; } = [.. KernelCatalog.Checks, .. RoutingKernelChecks.All];
}
