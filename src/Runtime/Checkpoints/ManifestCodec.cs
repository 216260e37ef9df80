using System.Buffers;
using System.IO.Hashing;
using MessagePack;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Reads and writes manifest.msgpack: a msgpack array <c>[magic, version, body (bin), xxh3(body)]</c>
/// whose body is the serialized <see cref="CheckpointManifest"/>. The envelope lets a reader
/// reject an unknown version or a damaged body before deserializing anything.
/// </summary>
internal static class ManifestCodec
{
    private static readonly MessagePackSerializerOptions Options =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    public static byte[] Encode(CheckpointManifest manifest)
    {
        var body = MessagePackSerializer.Serialize(manifest, Options);
        var buffer = new ArrayBufferWriter<byte>(body.Length + 64);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(4);
        writer.Write(CheckpointFormat.ManifestMagic);
        writer.Write(manifest.FormatVersion);
        writer.Write(body);
        writer.Write(XxHash3.HashToUInt64(body));
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public static CheckpointManifest Decode(byte[] bytes, string file)
    {
        ReadOnlyMemory<byte> body;
        ulong checksum;
        try
        {
            var reader = new MessagePackReader(bytes);
            if (reader.ReadArrayHeader() != 4 || reader.ReadString() != CheckpointFormat.ManifestMagic)
                throw Malformed(file, "it does not start with the OpenMoE checkpoint manifest header.");
            var version = reader.ReadInt32();
            if (version != CheckpointFormat.Version)
                throw new CheckpointException(CheckpointErrorKind.UnsupportedVersion, file, null,
                    $"format version {version} is not supported; this build reads version {CheckpointFormat.Version}.",
                    "Use the openmoe version that wrote it, or convert it with that version to safetensors.");
            var bodySequence = reader.ReadBytes() ?? throw Malformed(file, "the manifest body is nil.");
            body = bodySequence.ToArray();
            checksum = reader.ReadUInt64();
            if (!reader.End) throw Malformed(file, "it has trailing bytes after the manifest.");
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw Malformed(file, $"the manifest envelope cannot be parsed ({e.Message}).", e);
        }

        if (XxHash3.HashToUInt64(body.Span) != checksum)
            throw new CheckpointException(CheckpointErrorKind.ChecksumMismatch, file, null,
                "the manifest does not match its checksum.", "The file is damaged; restore the checkpoint from a backup or use an older one.");

        try
        {
            return MessagePackSerializer.Deserialize<CheckpointManifest>(body, Options)
                ?? throw Malformed(file, "the manifest body is nil.");
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw Malformed(file, $"the manifest body cannot be deserialized ({e.Message}).", e);
        }
    }

    /// <summary>Shard header: msgpack array <c>[magic, version, checkpoint id, shard index]</c>.</summary>
    public static byte[] EncodeShardHeader(string checkpointId, int shardIndex)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(4);
        writer.Write(CheckpointFormat.ShardMagic);
        writer.Write(CheckpointFormat.Version);
        writer.Write(checkpointId);
        writer.Write(shardIndex);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Checks a shard header against the manifest; returns the header length.</summary>
    public static int ValidateShardHeader(ReadOnlySpan<byte> prefix, string checkpointId, int shardIndex, string file)
    {
        try
        {
            var reader = new MessagePackReader(prefix.ToArray());
            if (reader.ReadArrayHeader() != 4 || reader.ReadString() != CheckpointFormat.ShardMagic)
                throw Malformed(file, "it does not start with an OpenMoE shard header.");
            var version = reader.ReadInt32();
            if (version != CheckpointFormat.Version)
                throw new CheckpointException(CheckpointErrorKind.UnsupportedVersion, file, null,
                    $"shard format version {version} is not supported; this build reads version {CheckpointFormat.Version}.",
                    "Use the openmoe version that wrote it.");
            if (reader.ReadString() != checkpointId || reader.ReadInt32() != shardIndex)
                throw Malformed(file, "the shard belongs to another checkpoint or has another index.");
            return checked((int)reader.Consumed);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw Malformed(file, $"the shard header cannot be parsed ({e.Message}).", e);
        }
    }

    private static CheckpointException Malformed(string file, string problem, Exception? inner = null) =>
        new(CheckpointErrorKind.Malformed, file, null, problem,
            "The file is damaged or not an OpenMoE checkpoint; restore it from a backup or use an older checkpoint.", inner);
}
