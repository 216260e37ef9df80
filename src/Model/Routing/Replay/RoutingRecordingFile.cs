using System.IO.Hashing;
using System.Text;

namespace OpenMoE.Model.Routing.Replay;

/// <summary>
/// The routing recording file: <c>"OMOEROUT"</c>, format version (u32), payload length (u64), XxHash3
/// of the payload (u64), payload. Payload: spec name and hash (length-prefixed UTF-8), batch count, then per
/// batch B, T, token hash, layer count and per layer its index, N, K, choices [N*K] and slots [N*K] (i32,
/// little-endian). A file that is not one, of another version, truncated or corrupted fails with an
/// <see cref="InvalidDataException"/> that says which; the payload is checked before it is parsed.
/// </summary>
public static class RoutingRecordingFile
{
    /// <summary>Current format version.</summary>
    public const uint Version = 1;

    private static readonly byte[] Magic = "OMOEROUT"u8.ToArray();
    private const int HeaderBytes = 8 + 4 + 8 + 8;

    /// <summary>Writes <paramref name="recording"/> to <paramref name="path"/> (replacing it).</summary>
    public static void Write(string path, RoutingRecording recording)
    {
        var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(recording.SpecName);
            w.Write(recording.SpecHash);
            w.Write(recording.Batches.Count);
            foreach (var batch in recording.Batches)
            {
                w.Write(batch.Batch);
                w.Write(batch.Time);
                w.Write(batch.TokenHash);
                w.Write(batch.Layers.Count);
                foreach (var layer in batch.Layers)
                {
                    w.Write(layer.Layer);
                    w.Write(layer.Tokens);
                    w.Write(layer.TopK);
                    foreach (int c in layer.Choices) w.Write(c);
                    foreach (int s in layer.Slots) w.Write(s);
                }
            }
        }
        var body = payload.ToArray();
        using var file = File.Create(path);
        using var header = new BinaryWriter(file);
        header.Write(Magic);
        header.Write(Version);
        header.Write((ulong)body.Length);
        header.Write(XxHash3.HashToUInt64(body));
        header.Write(body);
    }

    /// <summary>Reads and checks the recording at <paramref name="path"/>.</summary>
    public static RoutingRecording Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Routing recording '{path}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        string name = $"Routing recording '{path}'";
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"{name} is not a routing recording (no OMOEROUT header); record one with `openmoe eval --record-routing`.");
        if (bytes.Length < HeaderBytes)
            throw new InvalidDataException($"{name} is truncated: {bytes.Length} bytes, shorter than its {HeaderBytes}-byte header.");
        uint version = BitConverter.ToUInt32(bytes, 8);
        if (version != Version)
            throw new InvalidDataException($"{name} has format version {version}; this build reads version {Version}.");
        ulong length = BitConverter.ToUInt64(bytes, 12);
        if (length != (ulong)(bytes.Length - HeaderBytes))
            throw new InvalidDataException($"{name} is truncated or padded: its header promises {length} payload bytes, the file holds {bytes.Length - HeaderBytes}.");
        var body = bytes.AsSpan(HeaderBytes);
        if (XxHash3.HashToUInt64(body) != BitConverter.ToUInt64(bytes, 20))
            throw new InvalidDataException($"{name} is corrupted: the payload checksum does not match.");
        try
        {
            return Parse(new BinaryReader(new MemoryStream(bytes, HeaderBytes, bytes.Length - HeaderBytes), Encoding.UTF8), body.Length);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{name} is malformed: its payload ends inside a record.");
        }
    }

    private static RoutingRecording Parse(BinaryReader r, long payloadBytes)
    {
        string specName = r.ReadString(), specHash = r.ReadString();
        int batches = Count(r.ReadInt32(), payloadBytes, "batches");
        var list = new List<RecordedBatch>(batches);
        for (int b = 0; b < batches; b++)
        {
            int batch = r.ReadInt32(), time = r.ReadInt32();
            ulong tokenHash = r.ReadUInt64();
            int layerCount = Count(r.ReadInt32(), payloadBytes, "layers");
            var layers = new List<RoutingDecisions>(layerCount);
            for (int l = 0; l < layerCount; l++)
            {
                int layer = r.ReadInt32(), tokens = r.ReadInt32(), topK = r.ReadInt32();
                if (batch < 1 || time < 1 || tokens != batch * time || topK < 1)
                    throw new InvalidDataException($"Routing recording batch {b} layer {layer}: N = {tokens}, K = {topK} do not fit B = {batch}, T = {time}.");
                int assignments = Count((long)tokens * topK, payloadBytes / 8, "assignments");
                layers.Add(new RoutingDecisions(layer, tokens, topK, ReadInts(r, assignments), ReadInts(r, assignments)));
            }
            list.Add(new RecordedBatch(batch, time, tokenHash, layers));
        }
        if (r.BaseStream.Position != r.BaseStream.Length)
            throw new InvalidDataException("Routing recording is malformed: bytes follow its last record.");
        return new RoutingRecording(specName, specHash, list);
    }

    // Counts come from the file: bound them by what the payload can hold before allocating.
    private static int Count(long value, long limit, string what) =>
        value < 0 || value > limit ? throw new InvalidDataException($"Routing recording is malformed: {value} {what}.") : (int)value;

    private static int[] ReadInts(BinaryReader r, int count)
    {
        var values = new int[count];
        for (int i = 0; i < count; i++)
            values[i] = r.ReadInt32();
        return values;
    }
}
