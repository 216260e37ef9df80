using OpenMoE.Runtime.SelfTest;

namespace OpenMoE.Model.SelfTest;

/// <summary>
/// Every kernel check of the product: the runtime's (core ops, GEMM) plus routing, whose
/// reference twins live in the model layer. `openmoe selftest` and the kernel tests run this list.
/// </summary>
public static class SelfTestCatalog
{
    /// <summary>All checks, forward-pass order first.</summary>
    public static IReadOnlyList<KernelCheck> Checks { get; } = [.. KernelCatalog.Checks, .. RoutingKernelChecks.All];

    /// <summary>
    /// The tolerance op <paramref name="name"/> declares: the one place it is written; tests that
    /// compare the op outside its check read it here.
    /// </summary>
    public static Tolerance ToleranceOf(string name) =>
        Checks.SingleOrDefault(check => check.Name == name)?.Tolerance
        ?? throw new ArgumentException($"No kernel check is named '{name}'.");
}
