namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// One op's kernel-vs-reference check: <paramref name="Run"/> launches the kernel on the
/// context's device for several sizes and reports each output through
/// <see cref="KernelCheckContext.Compare"/>, which applies <paramref name="Tolerance"/>.
/// Shared by the test suite and <c>openmoe selftest</c>. <paramref name="Covers"/> names the kernel
/// classes the check exercises (the catalog test requires every kernel class to be covered).
/// </summary>
public sealed record KernelCheck(string Name, Tolerance Tolerance, Type[] Covers, Action<KernelCheckContext> Run);

/// <summary>Outcome of one <see cref="KernelCheck"/> on one device.</summary>
/// <param name="Name">Op name.</param>
/// <param name="Tolerance">The op's declared bound.</param>
/// <param name="Comparisons">Number of compared tensors (cases x outputs).</param>
/// <param name="WorstAbsError">Largest |actual - expected| over every compared element.</param>
/// <param name="WorstRatio">Largest error / bound; above 1 means failure.</param>
/// <param name="WorstCase">The case and element where <paramref name="WorstRatio"/> occurred.</param>
/// <param name="Error">An exception's message if the check could not run; null otherwise.</param>
public sealed record KernelCheckResult(string Name, Tolerance Tolerance, int Comparisons, double WorstAbsError,
    double WorstRatio, string WorstCase, string? Error)
{
    /// <summary>True when the check ran, compared something, and every element was within its bound.</summary>
    public bool Passed => Error is null && Comparisons > 0 && WorstRatio <= 1.0;
}
