using OpenMoE.Runtime.Devices;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>Runs kernel checks on a device; used by the tests and by <c>openmoe selftest</c>.</summary>
public static class SelfTestRunner
{
    /// <summary>Seed for the random inputs, fixed so a failure reproduces.</summary>
    public const int DefaultSeed = 20241;

    /// <summary>Runs one check; an exception becomes a failed result carrying its message.</summary>
    public static KernelCheckResult Run(ComputeDevice device, KernelCheck check, int seed = DefaultSeed)
    {
        using var context = new KernelCheckContext(device, check.Tolerance, seed);
        try
        {
            check.Run(context);
            return new KernelCheckResult(check.Name, check.Tolerance, context.Comparisons, context.WorstAbsError,
                context.WorstRatio, context.WorstCase, null);
        }
        catch (Exception ex)
        {
            return new KernelCheckResult(check.Name, check.Tolerance, context.Comparisons, context.WorstAbsError,
                context.WorstRatio, context.WorstCase, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>Runs every check of <paramref name="checks"/>.</summary>
    public static IReadOnlyList<KernelCheckResult> RunAll(ComputeDevice device, IEnumerable<KernelCheck> checks, int seed = DefaultSeed)
        => checks.Select(check => Run(device, check, seed)).ToList();
}
