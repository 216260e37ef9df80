namespace OpenMoE.Runtime.Communication;

/// <summary>
/// One rank, no peers: every collective is the identity (a sum over one rank, a gather of one
/// block). The default, so runs that ask for no parallelism need no MPI installed.
/// </summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int Size => 1;

    /// <inheritdoc />
    public string Name => "single process";

    /// <inheritdoc />
    public void Barrier()
    {
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values)
    {
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values)
    {
    }

    /// <inheritdoc />
    public void AllGatherVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> counts, Span<T> receive) where T : unmanaged
    {
        CommunicatorChecks.Counts(counts, 1, receive.Length, "gather");
        CommunicatorChecks.OwnBlock(send.Length, counts[0], 0);
        send.CopyTo(receive);
    }

    /// <inheritdoc />
    public void AllToAllVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
    {
        CommunicatorChecks.Counts(sendCounts, 1, send.Length, "all-to-all send");
        CommunicatorChecks.Counts(receiveCounts, 1, receive.Length, "all-to-all receive");
        if (sendCounts[0] != receiveCounts[0])
            throw new ArgumentException($"A single rank sends {sendCounts[0]} elements to itself but expects {receiveCounts[0]}.");
        send[..sendCounts[0]].CopyTo(receive);
    }

    /// <inheritdoc />
    public ICommunicator Split(int color, int key) => new SingleProcessCommunicator();

    /// <inheritdoc />
    public void Abort(int exitCode, string reason)
    {
        Console.Error.WriteLine(reason);
        Environment.Exit(exitCode);
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
