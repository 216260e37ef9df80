using System.Text.Json;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>Supplies one tensor's bytes to <paramref name="writer"/> (via <see cref="SafeTensorsWriter.Write"/>).</summary>
public delegate void TensorDataSource(TensorDescriptor tensor, SafeTensorsWriter writer);

/// <summary>Writes a tensor list as one safetensors file or as Hugging Face shards plus index.</summary>
public static class SafeTensorsExport
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="output"/>: a path ending in .safetensors
    /// becomes one file; any other path becomes a folder holding <c>model.safetensors</c>, or
    /// <c>model-0000i-of-0000n.safetensors</c> shards of at most <paramref name="maxShardBytes"/>
    /// tensor bytes each (a larger tensor gets a shard of its own) plus the index.
    /// Returns the files written.
    /// </summary>
    public static IReadOnlyList<string> Write(string output, IReadOnlyList<TensorDescriptor> tensors, TensorDataSource source,
        IReadOnlyDictionary<string, string>? metadata = null, long maxShardBytes = 5L << 30)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        if (output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return [WriteFile(output, tensors, source, metadata)];

        Directory.CreateDirectory(output);
        var groups = Plan(tensors, maxShardBytes);
        if (groups.Count <= 1)
            return [WriteFile(Path.Combine(output, SafeTensorsSet.SingleFileName), tensors, source, metadata)];

        var written = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < groups.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{groups.Count:D5}.safetensors";
            written.Add(WriteFile(Path.Combine(output, name), groups[i], source, metadata));
            foreach (var t in groups[i]) weightMap[t.Name] = name;
        }
        var indexPath = Path.Combine(output, SafeTensorsSet.IndexFileName);
        WriteIndex(indexPath, tensors.Sum(t => t.ByteLength), weightMap);
        written.Add(indexPath);
        return written;
    }

    private static string WriteFile(string path, IReadOnlyList<TensorDescriptor> tensors, TensorDataSource source, IReadOnlyDictionary<string, string>? metadata)
    {
        using var writer = SafeTensorsWriter.Create(path, tensors, metadata);
        foreach (var t in tensors) source(t, writer);
        return writer.Commit();
    }

    private static List<List<TensorDescriptor>> Plan(IReadOnlyList<TensorDescriptor> tensors, long maxShardBytes)
    {
        var groups = new List<List<TensorDescriptor>>();
        long size = 0;
        foreach (var t in tensors)
        {
            if (groups.Count == 0 || (size + t.ByteLength > maxShardBytes && size > 0))
            {
                groups.Add([]);
                size = 0;
            }
            groups[^1].Add(t);
            size += t.ByteLength;
        }
        return groups;
    }

    private static void WriteIndex(string path, long totalSize, Dictionary<string, string> weightMap)
    {
        var temp = $"{path}{CheckpointWriter.TemporaryMarker}{Guid.NewGuid():N}";
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteStartObject("metadata");
                json.WriteNumber("total_size", totalSize);
                json.WriteEndObject();
                json.WriteStartObject("weight_map");
                foreach (var (name, fileName) in weightMap.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(name, fileName);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            file.Flush(true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
