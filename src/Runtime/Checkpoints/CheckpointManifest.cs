using MessagePack;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// The checkpoint index (manifest.msgpack body). Integer keys are part of the format:
/// add new keys, never reuse or renumber old ones (docs/checkpoint-format.md).
/// </summary>
[MessagePackObject]
public sealed class CheckpointManifest
{
    /// <summary>Format version of this manifest (<see cref="CheckpointFormat.Version"/> when written by this build).</summary>
    [Key(0)] public int FormatVersion { get; set; }

    /// <summary>Random id written into every shard header, so a shard from another checkpoint is detected.</summary>
    [Key(1)] public string CheckpointId { get; set; } = "";

    /// <summary>Model spec name.</summary>
    [Key(2)] public string SpecName { get; set; } = "";

    /// <summary>Hash of every spec field.</summary>
    [Key(3)] public string SpecHash { get; set; } = "";

    /// <summary>Step, time, code version.</summary>
    [Key(4)] public CheckpointMetadata Metadata { get; set; } = new();

    /// <summary>Shard files, in index order.</summary>
    [Key(5)] public List<ShardEntry> Shards { get; set; } = [];

    /// <summary>Tensors, in the order they were written.</summary>
    [Key(6)] public List<TensorEntry> Tensors { get; set; } = [];

    /// <summary>Training state for an exact resume; null for weights-only checkpoints.</summary>
    [Key(7)] public TrainingState? TrainingState { get; set; }

    /// <summary>Checksum algorithm of every checksum in this manifest (<see cref="CheckpointFormat.ChecksumAlgorithm"/>).</summary>
    [Key(8)] public string ChecksumAlgorithm { get; set; } = CheckpointFormat.ChecksumAlgorithm;
}

/// <summary>When and by what a checkpoint was written.</summary>
[MessagePackObject]
public sealed class CheckpointMetadata
{
    /// <summary>Training step (0 for converted or freshly initialised weights).</summary>
    [Key(0)] public long Step { get; set; }

    /// <summary>UTC time of the save, as DateTime ticks.</summary>
    [Key(1)] public long CreatedUtcTicks { get; set; }

    /// <summary>Version of the code that wrote the checkpoint (assembly informational version).</summary>
    [Key(2)] public string CodeVersion { get; set; } = "";

    /// <summary>Free-form key/value notes (source file of a conversion, seed of an init...).</summary>
    [Key(3)] public Dictionary<string, string> Extra { get; set; } = [];

    /// <summary>UTC time of the save.</summary>
    [IgnoreMember]
    public DateTime CreatedUtc
    {
        get => CreatedUtcTicks >= DateTime.MinValue.Ticks && CreatedUtcTicks <= DateTime.MaxValue.Ticks
            ? new DateTime(CreatedUtcTicks, DateTimeKind.Utc)
            : DateTime.MinValue;
        set => CreatedUtcTicks = value.ToUniversalTime().Ticks;
    }

    /// <summary>Metadata for a save now, with this build's code version.</summary>
    public static CheckpointMetadata Now(long step) => new()
    {
        Step = step,
        CreatedUtc = DateTime.UtcNow,
        CodeVersion = CheckpointFormat.CodeVersion,
    };
}

/// <summary>One shard file.</summary>
[MessagePackObject]
public sealed class ShardEntry
{
    /// <summary>File name inside the checkpoint folder (shard-00000.msgpack ...).</summary>
    [Key(0)] public string FileName { get; set; } = "";

    /// <summary>Exact file length in bytes.</summary>
    [Key(1)] public long Length { get; set; }

    /// <summary>
    /// XxHash3-64 of the shard's framing: every byte outside chunk payloads (shard header, bin32
    /// headers) in file order, with each chunk's 8-byte little-endian checksum appended where its
    /// payload ends. Together with the chunk checksums it covers every byte of the file.
    /// </summary>
    [Key(2)] public ulong Checksum { get; set; }
}

/// <summary>One tensor: descriptor plus where its bytes live.</summary>
[MessagePackObject]
public sealed class TensorEntry
{
    /// <summary>Tensor name.</summary>
    [Key(0)] public string Name { get; set; } = "";

    /// <summary>Element type (<see cref="TensorDType"/> value).</summary>
    [Key(1)] public int DType { get; set; }

    /// <summary>Dimensions, outermost first.</summary>
    [Key(2)] public long[] Shape { get; set; } = [];

    /// <summary>Total bytes (elements times element size).</summary>
    [Key(3)] public long ByteLength { get; set; }

    /// <summary>Pieces of the tensor in order; a tensor larger than a shard spans several.</summary>
    [Key(4)] public List<ChunkEntry> Chunks { get; set; } = [];
}

/// <summary>One contiguous piece of a tensor inside one shard.</summary>
[MessagePackObject]
public sealed class ChunkEntry
{
    /// <summary>Index into <see cref="CheckpointManifest.Shards"/>.</summary>
    [Key(0)] public int Shard { get; set; }

    /// <summary>Offset of the first payload byte in the shard file (just after the bin32 header).</summary>
    [Key(1)] public long Offset { get; set; }

    /// <summary>Payload bytes.</summary>
    [Key(2)] public long Length { get; set; }

    /// <summary>XxHash3-64 of the payload.</summary>
    [Key(3)] public ulong Checksum { get; set; }
}
