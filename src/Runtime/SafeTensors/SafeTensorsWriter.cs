using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>
/// Streams one safetensors file: the header is written up front from the declared tensor list,
/// then the tensors' bytes in that order, in any number of pieces. The file appears at its final
/// path only on <see cref="Commit"/> (written to a temporary sibling, fsynced, renamed).
/// </summary>
public sealed class SafeTensorsWriter : IDisposable
{
    private readonly string _path;
    private readonly string _tempPath;
    private readonly IReadOnlyList<TensorDescriptor> _tensors;
    private readonly FileStream _file;
    private int _current;
    private long _currentRemaining;
    private bool _done;

    private SafeTensorsWriter(string path, IReadOnlyList<TensorDescriptor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        CheckpointFormat.RequireLittleEndian();
        if (tensors.Select(t => t.Name).Distinct(StringComparer.Ordinal).Count() != tensors.Count)
            throw new ArgumentException("Tensor names must be unique.", nameof(tensors));
        if (tensors.Any(t => t.Name == SafeTensorsHeader.MetadataKey))
            throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved.", nameof(tensors));
        _path = Path.GetFullPath(path);
        _tempPath = Path.Combine(Path.GetDirectoryName(_path)!, $".{Path.GetFileName(_path)}{CheckpointWriter.TemporaryMarker}{Guid.NewGuid():N}");
        _tensors = tensors;
        _file = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _file.Write(SafeTensorsHeader.Write(tensors, metadata));
        _current = -1;
        Advance();
    }

    /// <summary>Creates the file at <paramref name="path"/> (replaced on commit if it exists).</summary>
    public static SafeTensorsWriter Create(string path, IReadOnlyList<TensorDescriptor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        new(path, tensors, metadata);

    /// <summary>The tensor whose bytes <see cref="Write"/> expects next, or null when all are written.</summary>
    public TensorDescriptor? Next => _current < _tensors.Count ? _tensors[_current] : null;

    /// <summary>Appends raw bytes; pieces may span tensor boundaries, in declared order.</summary>
    public void Write(ReadOnlySpan<byte> piece)
    {
        if (_done) throw new InvalidOperationException("The writer is already committed or disposed.");
        while (!piece.IsEmpty)
        {
            if (Next is null) throw new ArgumentException("More bytes were supplied than the declared tensors hold.");
            var take = (int)Math.Min(_currentRemaining, piece.Length);
            _file.Write(piece[..take]);
            piece = piece[take..];
            _currentRemaining -= take;
            if (_currentRemaining == 0) Advance();
        }
    }

    /// <summary>Writes a whole tensor; it must be the one <see cref="Next"/> names, with nothing of it written yet.</summary>
    public void WriteTensor(string name, ReadOnlySpan<byte> data)
    {
        if (Next is not { } next || next.Name != name || _currentRemaining != next.ByteLength)
            throw new InvalidOperationException($"Tensor '{name}' is not next; expected '{Next?.Name}'.");
        if (data.Length != next.ByteLength)
            throw new ArgumentException($"Tensor '{name}' has {next.ByteLength} bytes; {data.Length} were supplied.");
        Write(data);
    }

    /// <summary>Flushes, fsyncs and renames the file into place; throws when tensors are missing bytes.</summary>
    public string Commit()
    {
        if (_done) throw new InvalidOperationException("The writer is already committed or disposed.");
        if (Next is not null) throw new InvalidOperationException($"Tensor '{Next.Name}' and those after it are not written.");
        _file.Flush(true);
        _file.Dispose();
        File.Move(_tempPath, _path, overwrite: true);
        _done = true;
        return _path;
    }

    /// <summary>Abandons an uncommitted file.</summary>
    public void Dispose()
    {
        _file.Dispose();
        if (!_done && File.Exists(_tempPath)) File.Delete(_tempPath);
        _done = true;
    }

    private void Advance()
    {
        do
        {
            _current++;
        }
        while (_current < _tensors.Count && _tensors[_current].ByteLength == 0);
        _currentRemaining = _current < _tensors.Count ? _tensors[_current].ByteLength : 0;
    }
}
