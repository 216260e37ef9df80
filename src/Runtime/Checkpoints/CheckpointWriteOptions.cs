namespace OpenMoE.Runtime.Checkpoints;

/// <summary>How <see cref="CheckpointWriter"/> lays out and commits a checkpoint.</summary>
public sealed class CheckpointWriteOptions
{
    /// <summary>Largest shard file in bytes (default 2 GiB); larger tensors span shards.</summary>
    public long MaxShardBytes { get; init; } = CheckpointFormat.DefaultMaxShardBytes;

    /// <summary>Replace an existing checkpoint at the target path (default: refuse).</summary>
    public bool Overwrite { get; init; }

    /// <summary>fsync files and folders before the commit rename (default true; turn off only in tests).</summary>
    public bool Durable { get; init; } = true;

    /// <summary>Receives the number of tensor bytes written so far.</summary>
    public IProgress<long>? Progress { get; init; }
}
