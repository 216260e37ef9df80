using System.Buffers.Binary;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>The msgpack bin32 header that precedes every chunk payload in a shard.</summary>
internal static class Bin32
{
    public const byte Code = 0xc6;

    public static void WriteHeader(Span<byte> destination, uint length)
    {
        destination[0] = Code;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], length);
    }

    public static bool Matches(ReadOnlySpan<byte> header, long length) =>
        header.Length == CheckpointFormat.Bin32HeaderBytes && header[0] == Code
        && BinaryPrimitives.ReadUInt32BigEndian(header[1..]) == length;
}
