using System.Globalization;

namespace OpenMoE.Analysis;

/// <summary>Equal-width position buckets over a row of T positions: bucket b holds [b*T/buckets, (b+1)*T/buckets).</summary>
public static class PositionBuckets
{
    /// <summary>The bucket of <paramref name="position"/> (0-based) in a row of <paramref name="sequenceLength"/>.</summary>
    public static int Of(int position, int sequenceLength, int buckets) => (int)((long)position * buckets / sequenceLength);

    /// <summary>First position of bucket <paramref name="bucket"/>.</summary>
    public static int Start(int bucket, int sequenceLength, int buckets) => (int)(((long)bucket * sequenceLength + buckets - 1) / buckets);

    /// <summary>Names like "0-31", one per bucket.</summary>
    public static IReadOnlyList<string> Names(int sequenceLength, int buckets) =>
        Enumerable.Range(0, buckets).Select(b => string.Create(CultureInfo.InvariantCulture,
            $"{Start(b, sequenceLength, buckets)}-{Start(b + 1, sequenceLength, buckets) - 1}")).ToArray();
}
