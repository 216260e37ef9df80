namespace OpenMoE.Runtime.Devices;

/// <summary>
/// Bytes copied between host and device through <see cref="PinnedHostArray{T}"/>, process-wide:
/// every transfer of a steady training step goes through one (the batch, routing metadata, the loss
/// and the gradient norm), so the difference across a step is what that step moved. Read it where
/// nothing else runs at the same time (a bench, a test collection that runs alone).
/// </summary>
public static class HostTransfers
{
    private static long _bytes;

    /// <summary>Bytes moved since the process started.</summary>
    public static long Bytes => Interlocked.Read(ref _bytes);

    internal static void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
}
