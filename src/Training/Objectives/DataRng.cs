namespace OpenMoE.Training.Objectives;

/// <summary>
/// SplitMix64: a small generator whose whole state is one <see cref="ulong"/>, so the data
/// pipeline can save and restore it exactly (System.Random cannot).
/// </summary>
public sealed class DataRng
{
    /// <summary>Creates a generator; equal seeds give equal streams on every platform.</summary>
    public DataRng(ulong seed) => State = seed;

    /// <summary>The full generator state; setting it resumes the stream exactly.</summary>
    public ulong State { get; set; }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), unbiased (rejection sampling).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), "The range must be non-empty.");
        }
        var bound = (ulong)maxExclusive;
        var limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong draw;
        do
        {
            draw = NextUInt64();
        }
        while (draw >= limit);
        return (int)(draw % bound);
    }

    /// <summary>Uniform integer in [<paramref name="min"/>, <paramref name="max"/>] (both inclusive).</summary>
    public int NextInclusive(int min, int max) => min + NextInt(max - min + 1);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Index drawn with probability proportional to <paramref name="weights"/> (non-negative, not all zero).</summary>
    public int NextWeighted(ReadOnlySpan<double> weights)
    {
        var total = 0.0;
        foreach (var w in weights)
        {
            total += w;
        }
        var r = NextDouble() * total;
        for (var i = 0; i < weights.Length; i++)
        {
            r -= weights[i];
            if (r < 0 && weights[i] > 0)
            {
                return i;
            }
        }
        // Rounding left r at ~0: the last non-zero weight takes it.
        for (var i = weights.Length - 1; i >= 0; i--)
        {
            if (weights[i] > 0)
            {
                return i;
            }
        }
        throw new ArgumentException("At least one weight must be positive.", nameof(weights));
    }

    /// <summary>A generator derived from a seed and a stream key, independent of this one's state.</summary>
    public static DataRng Derive(ulong seed, ulong key)
    {
        var mixer = new DataRng(seed ^ (key * 0xD1B54A32D192ED03UL));
        return new DataRng(mixer.NextUInt64());
    }
}
