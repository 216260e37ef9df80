using System.Buffers;
using System.Text.Json;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>
/// A set of safetensors weights: a single file, or Hugging Face shards listed by
/// <c>model.safetensors.index.json</c> (<c>{"metadata": {...}, "weight_map": {name: file}}</c>).
/// </summary>
public sealed class SafeTensorsSet : IDisposable
{
    /// <summary>Index file name used by Hugging Face for sharded weights.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Single-file name used by Hugging Face.</summary>
    public const string SingleFileName = "model.safetensors";

    private const int MaxIndexBytes = 64 << 20;

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _owner;

    private SafeTensorsSet(List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> owner, List<TensorDescriptor> tensors)
    {
        _files = files;
        _owner = owner;
        Tensors = tensors;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in files)
            foreach (var (k, v) in f.Metadata) metadata.TryAdd(k, v);
        Metadata = metadata;
    }

    /// <summary>Every tensor: files in order, then data-offset order within each.</summary>
    public IReadOnlyList<TensorDescriptor> Tensors { get; }

    /// <summary>Union of the files' <c>__metadata__</c> maps (first file wins).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The files of the set.</summary>
    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();

    /// <summary>True when <paramref name="path"/> names something <see cref="Open"/> accepts.</summary>
    public static bool LooksLikeSafeTensors(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
        || System.IO.File.Exists(System.IO.Path.Combine(path, IndexFileName))
        || System.IO.File.Exists(System.IO.Path.Combine(path, SingleFileName));

    /// <summary>
    /// Opens a .safetensors file, an index .json, or a folder holding <see cref="IndexFileName"/>
    /// or <see cref="SingleFileName"/>.
    /// </summary>
    public static SafeTensorsSet Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            if (System.IO.File.Exists(System.IO.Path.Combine(full, IndexFileName))) return OpenIndex(System.IO.Path.Combine(full, IndexFileName));
            if (System.IO.File.Exists(System.IO.Path.Combine(full, SingleFileName))) return OpenSingle(System.IO.Path.Combine(full, SingleFileName));
            throw new CheckpointException(CheckpointErrorKind.NotFound, full, null,
                $"the folder has neither {IndexFileName} nor {SingleFileName}.", "Pass the .safetensors file or the index file itself.");
        }
        return full.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(full) : OpenSingle(full);
    }

    /// <summary>Reads a whole tensor; <paramref name="destination"/> must be exactly its byte length.</summary>
    public void ReadTensor(string name, Span<byte> destination) => FileOf(name).ReadTensor(name, destination);

    /// <summary>Streams a tensor of any size through <paramref name="sink"/> in pieces of at most <paramref name="pieceBytes"/>.</summary>
    public void ReadTensorInPieces(string name, TensorPieceSink sink, int pieceBytes = 8 << 20)
    {
        var file = FileOf(name);
        var length = Tensors.First(t => t.Name == name).ByteLength;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(pieceBytes, Math.Max(1, length)));
        try
        {
            for (long done = 0; done < length;)
            {
                var piece = buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - done));
                file.ReadTensorRange(name, done, piece);
                sink(done, piece);
                done += piece.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Loads every tensor into a new array (for tests and small models).</summary>
    public IReadOnlyDictionary<string, byte[]> LoadAll()
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var t in Tensors)
        {
            var bytes = new byte[t.ByteLength];
            ReadTensor(t.Name, bytes);
            result[t.Name] = bytes;
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

    private SafeTensorsFile FileOf(string name) =>
        _owner.TryGetValue(name, out var f) ? f
        : throw new CheckpointException(CheckpointErrorKind.MissingTensor, _files[0].Path, name, "no file of the set holds this tensor.", "Check the tensor name.");

    private static SafeTensorsSet OpenSingle(string file)
    {
        var single = SafeTensorsFile.Open(file);
        return new SafeTensorsSet([single], single.Tensors.ToDictionary(t => t.Name, _ => single, StringComparer.Ordinal), single.Tensors.ToList());
    }

    private static SafeTensorsSet OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var folder = System.IO.Path.GetDirectoryName(indexPath)!;
        var files = new List<SafeTensorsFile>();
        try
        {
            var owner = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            var tensors = new List<TensorDescriptor>();
            foreach (var fileName in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                var file = SafeTensorsFile.Open(System.IO.Path.Combine(folder, fileName));
                files.Add(file);
                foreach (var t in file.Tensors)
                {
                    if (!weightMap.TryGetValue(t.Name, out var listed) || listed != fileName)
                        throw new CheckpointException(CheckpointErrorKind.UnexpectedTensor, file.Path, t.Name,
                            "the index does not list this tensor for this file.", $"Regenerate {IndexFileName} or re-export the weights.");
                    owner[t.Name] = file;
                    tensors.Add(t);
                }
            }
            foreach (var (name, fileName) in weightMap)
                if (!owner.ContainsKey(name))
                    throw new CheckpointException(CheckpointErrorKind.MissingTensor, System.IO.Path.Combine(folder, fileName), name,
                        "the index lists this tensor but the file does not hold it.", "Download or export the weights again.");
            return new SafeTensorsSet(files, owner, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        const string advice = "The index is damaged; download or export the weights again.";
        if (!System.IO.File.Exists(indexPath))
            throw new CheckpointException(CheckpointErrorKind.NotFound, indexPath, null, "the index file does not exist.", "Check the path.");
        if (new FileInfo(indexPath).Length > MaxIndexBytes)
            throw new CheckpointException(CheckpointErrorKind.Malformed, indexPath, null, "the index file is implausibly large.", advice);
        try
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(indexPath), new JsonDocumentOptions { MaxDepth = 8 });
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(CheckpointErrorKind.Malformed, indexPath, null, "there is no weight_map object.", advice);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                var file = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : "";
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                    throw new CheckpointException(CheckpointErrorKind.Malformed, indexPath, item.Name,
                        "the weight_map entry is not a plain file name in the same folder.", advice);
                if (!result.TryAdd(item.Name, file))
                    throw new CheckpointException(CheckpointErrorKind.Malformed, indexPath, item.Name, "the tensor is listed twice.", advice);
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new CheckpointException(CheckpointErrorKind.Malformed, indexPath, null, $"the index is not valid JSON ({e.Message}).", advice, e);
        }
    }
}
