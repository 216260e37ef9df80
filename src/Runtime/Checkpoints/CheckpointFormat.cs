using System.Reflection;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>Constants of the on-disk format (docs/checkpoint-format.md).</summary>
public static class CheckpointFormat
{
    /// <summary>Format version this build writes and the only one it reads.</summary>
    public const int Version = 1;

    /// <summary>Name of the manifest file inside a checkpoint folder.</summary>
    public const string ManifestFileName = "manifest.msgpack";

    /// <summary>Magic string at the start of the manifest envelope.</summary>
    public const string ManifestMagic = "OpenMoE.Checkpoint";

    /// <summary>Magic string at the start of every shard header.</summary>
    public const string ShardMagic = "OpenMoE.Shard";

    /// <summary>Checksum algorithm name recorded in the manifest.</summary>
    public const string ChecksumAlgorithm = "xxh3-64";

    /// <summary>Default shard size limit: 2 GiB.</summary>
    public const long DefaultMaxShardBytes = 2L << 30;

    /// <summary>Largest manifest this build reads; far above any real model's index.</summary>
    public const long MaxManifestBytes = 256L << 20;

    /// <summary>Largest shard header; a real one is under 100 bytes.</summary>
    public const int MaxShardHeaderBytes = 4096;

    /// <summary>Bytes of a msgpack bin32 header (0xc6 + big-endian uint32 length).</summary>
    public const int Bin32HeaderBytes = 5;

    /// <summary>Chunk payloads start at multiples of this many bytes in their shard (writers since the memory map; readers accept any offset).</summary>
    public const int PayloadAlignment = 64;

    /// <summary>The byte that pads before a chunk header: msgpack nil, so a shard stays a sequence of msgpack objects.</summary>
    public const byte PaddingByte = 0xc0;

    /// <summary>File name of shard <paramref name="index"/>.</summary>
    public static string ShardFileName(int index) => $"shard-{index:D5}.msgpack";

    /// <summary>Version string of the running code, recorded in metadata.</summary>
    public static string CodeVersion { get; } =
        typeof(CheckpointFormat).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(CheckpointFormat).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    internal static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Checkpoints store little-endian tensors; big-endian hosts are not supported.");
    }
}
