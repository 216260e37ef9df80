namespace OpenMoE.Runtime.SelfTest;

/// <summary>Per-op error bound: |actual - expected| &lt;= Abs + Rel * |expected|.</summary>
public readonly record struct Tolerance(double Abs, double Rel)
{
    /// <summary>Bit-exact (copies, gathers, single float adds).</summary>
    public static Tolerance Exact => new(0, 0);

    /// <summary>The bound for one expected value.</summary>
    public double Bound(double expected) => Abs + Rel * Math.Abs(expected);

    /// <inheritdoc />
    public override string ToString() => $"{Abs:G2} + {Rel:G2}*|ref|";
}
