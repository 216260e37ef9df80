namespace OpenMoE.Tests.EndToEnd;

/// <summary>Where a device forward first leaves the reference: the tensor, the element and both values.</summary>
public sealed record Divergence(string Tensor, int Index, double Actual, double Expected, double Bound)
{
    public override string ToString() =>
        $"{Tensor}[{Index}] is {Actual:G6}, reference {Expected:G6} (bound {Bound:G3}): the first tensor that diverges";
}

/// <summary>
/// Compares a device forward's named intermediates with the double-precision reference's, name
/// by name in forward order, so a mismatch names the first tensor that diverges (as llama.cpp's
/// layer-scoped names let one bisect a backend).
/// </summary>
public static class DivergenceFinder
{
    /// <summary>
    /// The first element outside |actual - expected| &lt;= abs + rel·|expected|, or null when every
    /// tensor agrees. Every device tensor must have a reference twin of the same length.
    /// </summary>
    public static Divergence? First(IReadOnlyList<(string Name, float[] Values)> device, IReadOnlyDictionary<string, double[]> reference,
        double abs, double rel)
    {
        foreach (var (name, actual) in device)
        {
            if (!reference.TryGetValue(name, out var expected))
                throw new InvalidOperationException($"The reference model records no tensor named {name}.");
            if (expected.Length != actual.Length)
                throw new InvalidOperationException($"{name}: the device tensor has {actual.Length} values, the reference {expected.Length}.");
            for (int i = 0; i < actual.Length; i++)
            {
                double bound = abs + rel * Math.Abs(expected[i]);
                if (!(Math.Abs(actual[i] - expected[i]) <= bound))
                    return new Divergence(name, i, actual[i], expected[i], bound);
            }
        }
        return null;
    }
}
