using System.Buffers.Binary;
using System.Text.Json;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>One tensor of a safetensors file: descriptor and byte range in the data section.</summary>
/// <param name="Descriptor">Name, dtype, shape.</param>
/// <param name="Begin">Offset of the first byte, relative to the data section.</param>
public sealed record SafeTensorsEntry(TensorDescriptor Descriptor, long Begin);

/// <summary>
/// Parses and writes the safetensors header: 8-byte little-endian header length, then a JSON
/// object <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c>.
/// Parsing checks every length and offset against the real file size and rejects overlaps,
/// holes and trailing bytes, as the reference implementation does.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>The reference implementation's header size limit.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    private const string Advice = "The file is damaged or not a safetensors file; download or export it again.";

    public static (List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata, long DataStart) Read(FileStream file, string path)
    {
        var length = file.Length;
        if (length < 8) throw new CheckpointException(CheckpointErrorKind.Truncated, path, null, $"the file has only {length} bytes.", Advice);
        Span<byte> prefix = stackalloc byte[8];
        file.Position = 0;
        file.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(length - 8))
            throw new CheckpointException(CheckpointErrorKind.Truncated, path, null,
                $"the header claims {headerLength} bytes but only {length - 8} follow.", Advice);
        if (headerLength > MaxHeaderBytes)
            throw Malformed(path, null, $"the header is {headerLength} bytes, over the {MaxHeaderBytes} limit.");
        var json = new byte[headerLength];
        file.ReadExactly(json);
        var dataStart = 8 + (long)headerLength;
        var dataLength = length - dataStart;

        var entries = new List<SafeTensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Malformed(path, null, "the header is not a JSON object.");
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw Malformed(path, property.Name, "the name appears twice in the header.");
                if (property.Name == MetadataKey)
                {
                    ReadMetadata(property.Value, metadata, path);
                    continue;
                }
                entries.Add(ReadEntry(property.Name, property.Value, dataLength, path));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw Malformed(path, null, $"the header is not valid safetensors JSON ({e.Message}).", e);
        }

        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long expected = 0;
        foreach (var e in entries)
        {
            if (e.Begin < expected) throw Malformed(path, e.Descriptor.Name, "its data_offsets overlap another tensor.");
            if (e.Begin > expected) throw Malformed(path, e.Descriptor.Name, "there are unindexed bytes before it.");
            expected = e.Begin + e.Descriptor.ByteLength;
        }
        if (expected != dataLength) throw Malformed(path, null, $"{dataLength - expected} bytes after the last tensor are not indexed.");
        return (entries, metadata, dataStart);
    }

    public static byte[] Write(IReadOnlyList<TensorDescriptor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.Name());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteLength;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        var padded = (buffer.Length + 7) / 8 * 8;
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        var header = new byte[8 + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)buffer.Length);
        buffer.ToArray().CopyTo(header, 8);
        return header;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Malformed(path, null, "__metadata__ is not an object.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String) throw Malformed(path, null, $"__metadata__ value '{item.Name}' is not a string.");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafeTensorsEntry ReadEntry(string name, JsonElement value, long dataLength, string path)
    {
        if (name.Length == 0 || value.ValueKind != JsonValueKind.Object) throw Malformed(path, name, "the tensor entry is not an object.");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Malformed(path, name, "dtype is missing.");
        var dtypeName = dtypeElement.GetString();
        if (!TensorDTypes.TryParse(dtypeName, out var dtype))
            throw new CheckpointException(CheckpointErrorKind.UnsupportedDType, path, name,
                $"dtype '{dtypeName}' is not supported (F32, BF16, F16 are).", "Convert the tensor to F32, BF16 or F16 before importing.");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || shapeElement.GetArrayLength() > TensorDescriptor.MaxRank)
            throw Malformed(path, name, "shape is missing or has too many dimensions.");
        var shape = new List<long>();
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0) throw Malformed(path, name, "shape has an invalid dimension.");
            shape.Add(dim);
        }
        if (TensorDescriptor.CheckedProduct(shape) is not { } count || count > dataLength)
            throw new CheckpointException(CheckpointErrorKind.Truncated, path, name,
                $"shape [{string.Join(", ", shape)}] needs more bytes than the file holds.", Advice);
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw Malformed(path, name, "data_offsets must be [begin, end] with 0 <= begin <= end.");
        if (end > dataLength)
            throw new CheckpointException(CheckpointErrorKind.Truncated, path, name,
                $"data_offsets end {end} lies beyond the {dataLength} data bytes in the file.", Advice);
        var descriptor = new TensorDescriptor(name, dtype, shape);
        if (end - begin != descriptor.ByteLength)
            throw Malformed(path, name, $"data_offsets span {end - begin} bytes but {descriptor.DType.Name()} {descriptor.ShapeText} needs {descriptor.ByteLength}.");
        return new SafeTensorsEntry(descriptor, begin);
    }

    private static CheckpointException Malformed(string path, string? tensor, string problem, Exception? inner = null) =>
        new(CheckpointErrorKind.Malformed, path, tensor, problem, Advice, inner);
}
