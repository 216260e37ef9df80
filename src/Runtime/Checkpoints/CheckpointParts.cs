using System.IO.Hashing;
using MessagePack;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// What one part writer (<see cref="CheckpointWriter.CreatePart"/>) wrote: its shards (numbered
/// <c>k * parts + part</c>) and its tensors, where a tensor whose leading dimension is split over the
/// parts (an expert stack [E, ...] held E/P experts per rank) appears in each part with its share.
/// </summary>
[MessagePackObject]
public sealed class CheckpointPart
{
    /// <summary>This part's shards, in the order written.</summary>
    [Key(0)] public List<ShardEntry> Shards { get; set; } = [];

    /// <summary>This part's tensors (or shares of tensors), in the order written.</summary>
    [Key(1)] public List<TensorEntry> Tensors { get; set; } = [];

    private static readonly MessagePackSerializerOptions Options =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    /// <summary>The part as bytes, to send to the rank that commits.</summary>
    public byte[] Encode() => MessagePackSerializer.Serialize(this, Options);

    /// <summary>A part from <see cref="Encode"/>'s bytes.</summary>
    public static CheckpointPart Decode(ReadOnlyMemory<byte> bytes) => MessagePackSerializer.Deserialize<CheckpointPart>(bytes, Options);
}

/// <summary>
/// A checkpoint written by several processes at once (expert parallelism: each rank writes its own
/// experts): one folder they share, every part written by its own rank, and one manifest committed
/// by one rank after every part is complete, with the same atomic rename as a single writer. The
/// result is an ordinary checkpoint (docs/checkpoint-format.md): a split tensor's chunks follow each
/// other across the parts' shards, so any reader, with any number of ranks, reads it whole.
/// </summary>
public static class CheckpointParts
{
    /// <summary>Creates the shared temporary folder of a checkpoint that will appear at <paramref name="targetPath"/>; returns it and a new checkpoint id.</summary>
    public static (string Folder, string CheckpointId) CreateFolder(string targetPath, CheckpointWriteOptions options)
    {
        var target = Path.GetFullPath(targetPath.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (!options.Overwrite && (Directory.Exists(target) || File.Exists(target)))
            throw new IOException($"'{target}' already exists; choose another path or pass Overwrite = true.");
        Directory.CreateDirectory(Path.GetDirectoryName(target) ?? throw new ArgumentException("A checkpoint cannot be a root folder.", nameof(targetPath)));
        var folder = CheckpointWriter.TemporaryPathFor(target);
        Directory.CreateDirectory(folder);
        return (folder, Guid.NewGuid().ToString("N"));
    }

    /// <summary>
    /// Joins <paramref name="parts"/> (in part order) into one manifest and publishes the folder at
    /// <paramref name="targetPath"/>. Shard numbers no part used (parts wrote different numbers of
    /// shards) get an empty shard, a header only. A tensor in several parts is their concatenation
    /// along the leading dimension, in part order. Returns the checkpoint folder.
    /// </summary>
    public static string Commit(string folder, string targetPath, SpecIdentity spec, string checkpointId, IReadOnlyList<CheckpointPart> parts,
        CheckpointMetadata metadata, TrainingState? trainingState, CheckpointWriteOptions options)
    {
        var target = Path.GetFullPath(targetPath.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var shards = new SortedDictionary<int, ShardEntry>();
        foreach (var shard in parts.SelectMany(p => p.Shards))
            shards.Add(IndexOf(shard), shard);
        int count = shards.Count == 0 ? 0 : shards.Keys.Max() + 1;
        var manifest = new CheckpointManifest
        {
            FormatVersion = CheckpointFormat.Version, CheckpointId = checkpointId, SpecName = spec.Name, SpecHash = spec.Hash,
            Metadata = metadata, TrainingState = trainingState,
        };
        for (int i = 0; i < count; i++)
            manifest.Shards.Add(shards.TryGetValue(i, out var entry) ? entry : WriteEmptyShard(folder, checkpointId, i, options));
        manifest.Tensors.AddRange(Join(parts));
        CheckpointWriter.Publish(folder, target, manifest, options);
        return target;
    }

    /// <summary>Deletes the shared folder of a checkpoint that will not be committed (a part failed).</summary>
    public static void Abandon(string folder)
    {
        if (Directory.Exists(folder) && CheckpointWriter.IsTemporaryName(Path.GetFileName(folder)))
            Directory.Delete(folder, recursive: true);
    }

    private static int IndexOf(ShardEntry shard)
    {
        const string prefix = "shard-", suffix = ".msgpack";
        var name = shard.FileName;
        if (name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(suffix, StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int index)
            && CheckpointFormat.ShardFileName(index) == name)
            return index;
        throw new ArgumentException($"'{name}' is not a shard file name.");
    }

    private static ShardEntry WriteEmptyShard(string folder, string checkpointId, int index, CheckpointWriteOptions options)
    {
        var header = ManifestCodec.EncodeShardHeader(checkpointId, index);
        var entry = new ShardEntry { FileName = CheckpointFormat.ShardFileName(index), Length = header.Length, Checksum = XxHash3.HashToUInt64(header) };
        using var file = new FileStream(Path.Combine(folder, entry.FileName), FileMode.CreateNew, FileAccess.Write, FileShare.None);
        file.Write(header);
        file.Flush(options.Durable);
        return entry;
    }

    private static List<TensorEntry> Join(IReadOnlyList<CheckpointPart> parts)
    {
        var joined = new List<TensorEntry>();
        var byName = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (var tensor in parts.SelectMany(p => p.Tensors))
        {
            if (!byName.TryGetValue(tensor.Name, out var whole))
            {
                whole = new TensorEntry { Name = tensor.Name, DType = tensor.DType, Shape = (long[])tensor.Shape.Clone(), ByteLength = tensor.ByteLength, Chunks = [.. tensor.Chunks] };
                byName.Add(tensor.Name, whole);
                joined.Add(whole);
                continue;
            }
            if (whole.DType != tensor.DType || whole.Shape.Length == 0 || whole.Shape.Length != tensor.Shape.Length || !whole.Shape.AsSpan(1).SequenceEqual(tensor.Shape.AsSpan(1)))
                throw new ArgumentException(
                    $"Tensor '{tensor.Name}' is in several parts with shapes [{string.Join(", ", whole.Shape)}] and [{string.Join(", ", tensor.Shape)}]; only the leading dimension may be split.");
            whole.Shape[0] += tensor.Shape[0];
            whole.ByteLength += tensor.ByteLength;
            whole.Chunks.AddRange(tensor.Chunks);
        }
        return joined;
    }
}
