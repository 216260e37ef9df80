namespace OpenMoE.Runtime.Communication;

/// <summary>
/// The collective operations expert and data parallelism need, over host memory, among the ranks
/// of one job. Every rank calls the same operations in the same order (MPI's rule); counts are in
/// elements. Kept an interface so a device-memory engine (NCCL) can implement it later;
/// <see cref="SingleProcessCommunicator"/> is the default and <see cref="MpiCommunicator"/> runs on MPICH.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 .. <see cref="Size"/>-1.</summary>
    int Rank { get; }

    /// <summary>Number of ranks.</summary>
    int Size { get; }

    /// <summary>The engine, for logs ("single process", "MPICH 4.0.2").</summary>
    string Name { get; }

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>values [n] = the element-wise sum of every rank's values [n] (same n on every rank).</summary>
    void AllReduceSum(Span<float> values);

    /// <summary>values [n] = the element-wise sum of every rank's values [n] (same n on every rank).</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>
    /// receive [sum of counts] = every rank's <paramref name="send"/> in rank order; counts [Size] holds
    /// each rank's send length (known to all, e.g. from <see cref="AllGather{T}(T)"/>).
    /// </summary>
    void AllGatherVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> counts, Span<T> receive) where T : unmanaged;

    /// <summary>
    /// Variable-count all-to-all: rank r sends <c>send[sendOffsets(r)[j] .. + sendCounts[j]]</c> to rank j
    /// (blocks back to back in rank order) and receives rank j's block for it into
    /// <paramref name="receive"/> likewise (blocks in source-rank order). Counts may be zero.
    /// </summary>
    void AllToAllVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged;

    /// <summary>
    /// A communicator over the ranks that pass the same <paramref name="color"/>, ranked by
    /// <paramref name="key"/> (then by rank here); every rank must call it (MPI_Comm_split).
    /// </summary>
    ICommunicator Split(int color, int key);

    /// <summary>Ends the whole job with <paramref name="exitCode"/> (every rank), after printing <paramref name="reason"/>.</summary>
    void Abort(int exitCode, string reason);
}

/// <summary>Collectives built from the interface's primitives.</summary>
public static class CommunicatorExtensions
{
    /// <summary>One value from every rank, in rank order. // [Size]</summary>
    public static T[] AllGather<T>(this ICommunicator communicator, T value) where T : unmanaged
    {
        var counts = new int[communicator.Size];
        Array.Fill(counts, 1);
        var all = new T[communicator.Size];
        communicator.AllGatherVariable<T>([value], counts, all);
        return all;
    }

    /// <summary>Every rank's <paramref name="bytes"/> (any lengths, also empty), in rank order.</summary>
    public static byte[][] AllGatherBytes(this ICommunicator communicator, byte[] bytes)
    {
        var counts = communicator.AllGather(bytes.Length);
        var all = new byte[counts.Sum()];
        communicator.AllGatherVariable<byte>(bytes, counts, all);
        var result = new byte[counts.Length][];
        for (int r = 0, offset = 0; r < counts.Length; offset += counts[r], r++)
            result[r] = all.AsSpan(offset, counts[r]).ToArray();
        return result;
    }

    /// <summary>Rank 0's <paramref name="text"/> on every rank (the other ranks pass anything, e.g. null).</summary>
    public static string Broadcast(this ICommunicator communicator, string? text) =>
        System.Text.Encoding.UTF8.GetString(communicator.AllGatherBytes(communicator.Rank == 0 ? System.Text.Encoding.UTF8.GetBytes(text ?? "") : [])[0]);
}
