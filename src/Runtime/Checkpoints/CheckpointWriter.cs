using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Streams tensors into a new checkpoint folder. Bytes go straight to the current shard file
/// (nothing is buffered beyond the file stream's small buffer); the folder only becomes visible at
/// its final path in <see cref="Commit"/>, by an atomic rename of a temporary sibling folder.
/// Disposing without committing deletes the temporary folder. A <em>part</em> writer
/// (<see cref="CreatePart"/>) is one rank's share of a checkpoint that several processes write together:
/// it writes its own shards into a folder the job shares and hands its index to
/// <see cref="CheckpointParts.Commit"/> instead of committing.
/// </summary>
public sealed class CheckpointWriter : IDisposable
{
    private const int MinShardBytes = 128;
    private const int ParallelHashBytes = 256 << 10;

    private readonly string _targetPath;
    private readonly string _tempPath;
    private readonly CheckpointWriteOptions _options;
    private readonly CheckpointManifest _manifest;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly XxHash3 _shardHash = new();
    private readonly XxHash3 _chunkHash = new();

    private FileStream? _shard;
    private long _shardBytes;
    private ChunkEntry? _chunk;
    private long _chunkRemaining;
    private TensorWriteStream? _open;
    private long _bytesWritten;
    private bool _committed;
    // Part mode: shard k of this part is shard k * _parts + _part of the checkpoint, so every rank can
    // number its shards without knowing the others' counts (CheckpointParts fills the gaps).
    private readonly int _part, _parts = 1;
    private readonly bool _ownsFolder = true;

    private CheckpointWriter(string targetPath, SpecIdentity spec, CheckpointWriteOptions options)
    {
        CheckpointFormat.RequireLittleEndian();
        if (options.MaxShardBytes < MinShardBytes)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxShardBytes must be at least {MinShardBytes}.");
        _targetPath = Path.GetFullPath(targetPath.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        _options = options;
        if (!options.Overwrite && (Directory.Exists(_targetPath) || File.Exists(_targetPath)))
            throw new IOException($"'{_targetPath}' already exists; choose another path or pass Overwrite = true.");
        var parent = Path.GetDirectoryName(_targetPath) ?? throw new ArgumentException("A checkpoint cannot be a root folder.", nameof(targetPath));
        Directory.CreateDirectory(parent);
        _tempPath = TemporaryPathFor(_targetPath);
        Directory.CreateDirectory(_tempPath);
        _manifest = new CheckpointManifest
        {
            FormatVersion = CheckpointFormat.Version,
            CheckpointId = Guid.NewGuid().ToString("N"),
            SpecName = spec.Name,
            SpecHash = spec.Hash,
        };
    }

    private CheckpointWriter(string sharedFolder, string checkpointId, SpecIdentity spec, int part, int parts, CheckpointWriteOptions options)
    {
        CheckpointFormat.RequireLittleEndian();
        if (options.MaxShardBytes < MinShardBytes)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxShardBytes must be at least {MinShardBytes}.");
        ArgumentOutOfRangeException.ThrowIfNegative(part);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(part, parts);
        _targetPath = _tempPath = Path.GetFullPath(sharedFolder);
        if (!Directory.Exists(_tempPath))
            throw new DirectoryNotFoundException($"The shared checkpoint folder '{_tempPath}' does not exist.");
        _options = options;
        (_part, _parts, _ownsFolder) = (part, parts, false);
        _manifest = new CheckpointManifest { FormatVersion = CheckpointFormat.Version, CheckpointId = checkpointId, SpecName = spec.Name, SpecHash = spec.Hash };
    }

    /// <summary>Marker in the names of temporary folders; such folders are never checkpoints.</summary>
    public const string TemporaryMarker = ".partial-";

    /// <summary>Starts a checkpoint that will appear at <paramref name="path"/> on <see cref="Commit"/>.</summary>
    public static CheckpointWriter Create(string path, SpecIdentity spec, CheckpointWriteOptions? options = null) =>
        new(path, spec, options ?? new CheckpointWriteOptions());

    /// <summary>
    /// Starts part <paramref name="part"/> of <paramref name="parts"/> of checkpoint <paramref name="checkpointId"/>,
    /// written into <paramref name="sharedFolder"/> (made by <see cref="CheckpointParts.CreateFolder"/>);
    /// <see cref="CompletePart"/> ends it.
    /// </summary>
    public static CheckpointWriter CreatePart(string sharedFolder, string checkpointId, SpecIdentity spec, int part, int parts, CheckpointWriteOptions? options = null) =>
        new(sharedFolder, checkpointId, spec, part, parts, options ?? new CheckpointWriteOptions());

    /// <summary>True for folder names that <see cref="CheckpointWriter"/> uses while saving.</summary>
    public static bool IsTemporaryName(string folderName) =>
        folderName.StartsWith('.') && folderName.Contains(TemporaryMarker, StringComparison.Ordinal);

    /// <summary>Total tensor bytes written so far.</summary>
    public long BytesWritten => _bytesWritten;

    /// <summary>
    /// Starts a tensor whose bytes the caller then supplies in any number of pieces; use this for
    /// tensors larger than a span can hold or that come from device memory piece by piece.
    /// </summary>
    public TensorWriteStream BeginTensor(TensorDescriptor descriptor)
    {
        ThrowIfDone();
        if (_open is not null) throw new InvalidOperationException($"Tensor '{_open.Descriptor.Name}' is still open; complete it first.");
        if (!_names.Add(descriptor.Name)) throw new ArgumentException($"Tensor '{descriptor.Name}' was already written.", nameof(descriptor));
        var entry = new TensorEntry
        {
            Name = descriptor.Name,
            DType = (int)descriptor.DType,
            Shape = descriptor.Shape.ToArray(),
            ByteLength = descriptor.ByteLength,
        };
        _manifest.Tensors.Add(entry);
        _open = new TensorWriteStream(this, descriptor, entry);
        return _open;
    }

    /// <summary>Writes a whole tensor from raw little-endian bytes.</summary>
    public void WriteTensor(TensorDescriptor descriptor, ReadOnlySpan<byte> data)
    {
        var stream = BeginTensor(descriptor);
        stream.Write(data);
        stream.Complete();
    }

    /// <summary>Writes a whole F32 tensor.</summary>
    public void WriteTensor(TensorDescriptor descriptor, ReadOnlySpan<float> data)
    {
        if (descriptor.DType != TensorDType.F32) throw new ArgumentException($"Tensor '{descriptor.Name}' is {descriptor.DType}, not F32.");
        var stream = BeginTensor(descriptor);
        stream.Write(data);
        stream.Complete();
    }

    /// <summary>Writes a whole BF16 or F16 tensor given as raw 16-bit words.</summary>
    public void WriteTensor(TensorDescriptor descriptor, ReadOnlySpan<ushort> data)
    {
        if (descriptor.DType == TensorDType.F32) throw new ArgumentException($"Tensor '{descriptor.Name}' is F32, not a 16-bit type.");
        var stream = BeginTensor(descriptor);
        stream.Write(data);
        stream.Complete();
    }

    /// <summary>
    /// Writes the manifest, flushes and fsyncs everything, then atomically renames the temporary
    /// folder to the target path. Returns the target path.
    /// </summary>
    public string Commit(CheckpointMetadata metadata, TrainingState? trainingState = null)
    {
        ThrowIfDone();
        if (!_ownsFolder) throw new InvalidOperationException("A part of a checkpoint is completed with CompletePart and committed by CheckpointParts.");
        if (_open is not null) throw new InvalidOperationException($"Tensor '{_open.Descriptor.Name}' is incomplete.");
        FinishShard();
        _manifest.Metadata = metadata;
        _manifest.TrainingState = trainingState;
        Publish(_tempPath, _targetPath, _manifest, _options);
        _committed = true;
        return _targetPath;
    }

    /// <summary>Closes this part's last shard (fsynced) and returns what the manifest needs of it.</summary>
    public CheckpointPart CompletePart()
    {
        ThrowIfDone();
        if (_ownsFolder) throw new InvalidOperationException("Only a writer made by CreatePart has a part to complete.");
        if (_open is not null) throw new InvalidOperationException($"Tensor '{_open.Descriptor.Name}' is incomplete.");
        FinishShard();
        _committed = true;
        return new CheckpointPart { Shards = _manifest.Shards, Tensors = _manifest.Tensors };
    }

    /// <summary>
    /// Writes <paramref name="manifest"/> into <paramref name="tempPath"/> last, fsyncs it and the folder,
    /// then renames the folder to <paramref name="targetPath"/> (moving an existing one aside first).
    /// </summary>
    internal static void Publish(string tempPath, string targetPath, CheckpointManifest manifest, CheckpointWriteOptions options)
    {
        var manifestPath = Path.Combine(tempPath, CheckpointFormat.ManifestFileName);
        using (var file = new FileStream(manifestPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            file.Write(ManifestCodec.Encode(manifest));
            file.Flush(options.Durable);
        }
        if (options.Durable) DurableFileSystem.FsyncDirectory(tempPath);

        var parent = Path.GetDirectoryName(targetPath)!;
        string? previous = null;
        if (Directory.Exists(targetPath))
        {
            previous = TemporaryPathFor(targetPath);
            Directory.Move(targetPath, previous);
        }
        Directory.Move(tempPath, targetPath);
        if (options.Durable) DurableFileSystem.FsyncDirectory(parent);
        if (previous is null) return;
        try
        {
            Directory.Delete(previous, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The new checkpoint is committed; the old one, renamed to a temporary name, is never listed
            // as a checkpoint and CheckpointRun.RemoveLeftovers deletes it later.
        }
    }

    /// <summary>Abandons an uncommitted checkpoint: closes files and deletes the temporary folder.</summary>
    public void Dispose()
    {
        try
        {
            _shard?.Dispose();
        }
        catch (IOException) when (!_committed)
        {
            // On a full disk the shard's last buffered bytes cannot be flushed; the folder goes anyway.
        }
        _shard = null;
        if (!_committed && _ownsFolder && Directory.Exists(_tempPath))
        {
            _committed = true;
            Directory.Delete(_tempPath, recursive: true);
        }
        _committed = true;
    }

    internal void Append(TensorWriteStream tensor, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_chunkRemaining == 0) StartChunk(tensor);
            var take = (int)Math.Min(_chunkRemaining, data.Length);
            var piece = data[..take];
            if (take >= ParallelHashBytes) WriteAndHashInParallel(piece);
            else
            {
                _shard!.Write(piece);
                _chunkHash.Append(piece);
            }
            _shardBytes += take;
            _chunkRemaining -= take;
            tensor.Remaining -= take;
            _bytesWritten += take;
            data = data[take..];
            if (_chunkRemaining == 0) EndChunk();
        }
        _options.Progress?.Report(_bytesWritten);
    }

    internal void Completed(TensorWriteStream tensor)
    {
        if (!ReferenceEquals(_open, tensor)) throw new InvalidOperationException("This tensor is not the open one.");
        _open = null;
    }

    /// <summary>Padding bytes that make a chunk header written at <paramref name="position"/> end on a payload boundary.</summary>
    private static int PaddingBefore(long position) =>
        (int)((CheckpointFormat.PayloadAlignment - (position + CheckpointFormat.Bin32HeaderBytes) % CheckpointFormat.PayloadAlignment) % CheckpointFormat.PayloadAlignment);

    private void StartChunk(TensorWriteStream tensor)
    {
        if (_shard is null || _options.MaxShardBytes - _shardBytes <= PaddingBefore(_shardBytes) + CheckpointFormat.Bin32HeaderBytes)
            StartShard();
        // Msgpack nil bytes before the bin32 header put the payload on a PayloadAlignment boundary, so a
        // memory map of the shard can serve the tensor in place (CheckpointMemoryMap).
        Span<byte> padding = stackalloc byte[PaddingBefore(_shardBytes)];
        padding.Fill(CheckpointFormat.PaddingByte);
        _shard!.Write(padding);
        _shardHash.Append(padding);
        _shardBytes += padding.Length;
        var room = _options.MaxShardBytes - _shardBytes - CheckpointFormat.Bin32HeaderBytes;
        var length = Math.Min(Math.Min(tensor.Remaining, room), int.MaxValue);
        Span<byte> header = stackalloc byte[CheckpointFormat.Bin32HeaderBytes];
        Bin32.WriteHeader(header, (uint)length);
        _shard!.Write(header);
        _shardHash.Append(header);
        _shardBytes += header.Length;
        _chunk = new ChunkEntry { Shard = ShardIndex(_manifest.Shards.Count - 1), Offset = _shardBytes, Length = length };
        tensor.Entry.Chunks.Add(_chunk);
        _chunkHash.Reset();
        _chunkRemaining = length;
    }

    /// <summary>
    /// Hashes a large piece on a pool thread while this thread writes it, so checksumming costs
    /// no wall time where a core is free. The piece is pinned until both are done.
    /// </summary>
    private unsafe void WriteAndHashInParallel(ReadOnlySpan<byte> piece)
    {
        fixed (byte* start = piece)
        {
            var address = (IntPtr)start;
            var length = piece.Length;
            var hashing = Task.Run(() => _chunkHash.Append(new ReadOnlySpan<byte>((void*)address, length)));
            try
            {
                _shard!.Write(piece);
            }
            finally
            {
                hashing.GetAwaiter().GetResult();
            }
        }
    }

    private void EndChunk()
    {
        _chunk!.Checksum = _chunkHash.GetCurrentHashAsUInt64();
        Span<byte> checksum = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, _chunk.Checksum);
        _shardHash.Append(checksum);
    }

    private void StartShard()
    {
        FinishShard();
        var index = ShardIndex(_manifest.Shards.Count);
        var entry = new ShardEntry { FileName = CheckpointFormat.ShardFileName(index) };
        _manifest.Shards.Add(entry);
        _shard = new FileStream(Path.Combine(_tempPath, entry.FileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _shardHash.Reset();
        var header = ManifestCodec.EncodeShardHeader(_manifest.CheckpointId, index);
        _shard.Write(header);
        _shardHash.Append(header);
        _shardBytes = header.Length;
    }

    /// <summary>The checkpoint's index of this writer's <paramref name="local"/>-th shard.</summary>
    private int ShardIndex(int local) => local * _parts + _part;

    private void FinishShard()
    {
        if (_shard is null) return;
        _shard.Flush(_options.Durable);
        _shard.Dispose();
        _shard = null;
        var entry = _manifest.Shards[^1];
        entry.Length = _shardBytes;
        entry.Checksum = _shardHash.GetCurrentHashAsUInt64();
    }

    private void ThrowIfDone()
    {
        if (_committed) throw new InvalidOperationException("This checkpoint writer is already committed or disposed.");
    }

    internal static string TemporaryPathFor(string target) =>
        Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}{TemporaryMarker}{Guid.NewGuid():N}");
}
