namespace OpenMoE.Runtime.Communication;

/// <summary>Argument checks shared by the communicators, so a wrong count fails here with its numbers rather than corrupting a peer's buffer.</summary>
internal static class CommunicatorChecks
{
    /// <summary>counts [size], none negative, summing to at most <paramref name="bufferLength"/>; returns the sum.</summary>
    public static int Counts(ReadOnlySpan<int> counts, int size, int bufferLength, string what)
    {
        if (counts.Length != size)
            throw new ArgumentException($"The {what} has {counts.Length} counts for {size} ranks.");
        long sum = 0;
        foreach (int count in counts)
        {
            if (count < 0)
                throw new ArgumentException($"The {what} has a negative count ({count}).");
            sum += count;
        }
        if (sum > bufferLength)
            throw new ArgumentException($"The {what} needs {sum} elements but its buffer holds {bufferLength}.");
        return (int)sum;
    }

    /// <summary>This rank's gather block must be as long as its count says.</summary>
    public static void OwnBlock(int sendLength, int count, int rank)
    {
        if (sendLength != count)
            throw new ArgumentException($"Rank {rank} sends {sendLength} elements but the counts give it {count}.");
    }
}
