namespace OpenMoE.Kernels.Optimizers;

/// <summary>
/// Which tensors Adafactor factors (T5X's rule: both last dims at least 128) and how much state
/// that leaves: the optimizer allocates by it and the memory planner counts by it.
/// </summary>
public static class AdafactorFactoring
{
    /// <summary>T5X's <c>min_dim_size_to_factor</c>.</summary>
    public const int DefaultMinDimToFactor = 128;

    /// <summary>Whether a tensor of <paramref name="shape"/> keeps factored second moments (row and column means per matrix slice).</summary>
    public static bool IsFactored(IReadOnlyList<long> shape, int minDimToFactor = DefaultMinDimToFactor) =>
        shape.Count >= 2 && shape[^1] >= minDimToFactor && shape[^2] >= minDimToFactor;

    /// <summary>Floats of second-moment state for <paramref name="shape"/>: rows + columns per matrix slice when factored, one per element otherwise.</summary>
    public static long StateElements(IReadOnlyList<long> shape, int minDimToFactor = DefaultMinDimToFactor)
    {
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        if (!IsFactored(shape, minDimToFactor))
            return elements;
        long rows = shape[^2], cols = shape[^1];
        return elements / (rows * cols) * (rows + cols);
    }
}
