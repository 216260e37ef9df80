using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>
/// One safetensors file opened for reading. The header is validated against the real file size
/// on open; tensor data is read on demand, tensor by tensor, into caller memory.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private readonly FileStream _file;
    private readonly Dictionary<string, SafeTensorsEntry> _entries;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, FileStream file, List<SafeTensorsEntry> entries, Dictionary<string, string> metadata, long dataStart)
    {
        Path = path;
        _file = file;
        _dataStart = dataStart;
        _entries = entries.ToDictionary(e => e.Descriptor.Name, StringComparer.Ordinal);
        Tensors = entries.Select(e => e.Descriptor).ToList();
        Metadata = metadata;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Tensors in data-offset order.</summary>
    public IReadOnlyList<TensorDescriptor> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates a safetensors file.</summary>
    public static SafeTensorsFile Open(string path)
    {
        CheckpointFormat.RequireLittleEndian();
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new CheckpointException(CheckpointErrorKind.NotFound, full, null, "the file does not exist.", "Check the path.");
        var file = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        try
        {
            var (entries, metadata, dataStart) = SafeTensorsHeader.Read(file, full);
            return new SafeTensorsFile(full, file, entries, metadata, dataStart);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>Reads bytes <c>[offset, offset + destination.Length)</c> of a tensor.</summary>
    public void ReadTensorRange(string name, long offset, Span<byte> destination)
    {
        var entry = Entry(name);
        if (offset < 0 || offset > entry.Descriptor.ByteLength - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Range outside tensor '{name}' ({entry.Descriptor.ByteLength} bytes).");
        var position = _dataStart + entry.Begin + offset;
        while (!destination.IsEmpty)
        {
            var n = RandomAccess.Read(_file.SafeFileHandle, destination, position);
            if (n <= 0)
                throw new CheckpointException(CheckpointErrorKind.Truncated, Path, name, "the file ended while reading the tensor.",
                    "The file is damaged; download or export it again.");
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>Reads a whole tensor; <paramref name="destination"/> must be exactly its byte length.</summary>
    public void ReadTensor(string name, Span<byte> destination)
    {
        var length = Entry(name).Descriptor.ByteLength;
        if (destination.Length != length)
            throw new ArgumentException($"Tensor '{name}' has {length} bytes; the destination has {destination.Length}.", nameof(destination));
        ReadTensorRange(name, 0, destination);
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private SafeTensorsEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e) ? e
        : throw new CheckpointException(CheckpointErrorKind.MissingTensor, Path, name, "the file has no such tensor.", "Check the tensor name.");
}
