namespace OpenMoE.Runtime.Devices;

/// <summary>
/// Bytes copied between host and device through <see cref="PinnedHostArray{T}"/>, process-wide. A
/// steady training step copies through one only (the batch, routing metadata, the loss and the
/// gradient norm), so the difference across such a step is what it moved; copies made another way
/// (routing replay and recording, checkpoints, downloads for export) are not counted. Read it where
/// nothing else runs at the same time (a bench, a test collection that runs alone).
/// </summary>
public static class HostTransfers
{
    private static long _bytes;

    /// <summary>Bytes moved since the process started.</summary>
    public static long Bytes => Interlocked.Read(ref _bytes);

    internal static void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
}
