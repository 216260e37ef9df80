using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>Receives consecutive pieces of a tensor; <paramref name="tensorOffset"/> is the byte offset of the piece in the tensor.</summary>
public delegate void TensorPieceSink(long tensorOffset, ReadOnlySpan<byte> piece);

/// <summary>
/// Opens a checkpoint folder and loads tensors one at a time into caller memory.
/// <para>
/// <see cref="Open"/> parses and structurally validates the manifest and checks every shard's
/// size, so no later length or offset points outside the files. The safe order for loading a
/// model is: <see cref="ValidateLayout"/> (spec, names, shapes), <see cref="VerifyChecksums"/>
/// (every byte), then <see cref="ReadTensor(string, Span{byte})"/> per tensor, which verifies each
/// chunk again while copying. Nothing in the destination is touched before the first two pass.
/// </para>
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    private const int VerifyBufferBytes = 4 << 20;
    private const int PipelinePieceBytes = 8 << 20;
    internal const string DamagedAdvice = "The checkpoint is damaged; restore it from a backup or use an older checkpoint (openmoe checkpoint verify PATH tells which).";

    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly SafeFileHandle?[] _handles;
    private readonly List<TensorDescriptor> _tensors;

    private CheckpointReader(string path, CheckpointManifest manifest, List<TensorDescriptor> tensors)
    {
        Path = path;
        Manifest = manifest;
        _tensors = tensors;
        for (var i = 0; i < tensors.Count; i++) _index[tensors[i].Name] = i;
        _handles = new SafeFileHandle?[manifest.Shards.Count];
    }

    /// <summary>The checkpoint folder.</summary>
    public string Path { get; }

    /// <summary>The parsed, validated manifest.</summary>
    public CheckpointManifest Manifest { get; }

    /// <summary>Spec the checkpoint was written for.</summary>
    public SpecIdentity Spec => new(Manifest.SpecName, Manifest.SpecHash);

    /// <summary>Step, time and code version.</summary>
    public CheckpointMetadata Metadata => Manifest.Metadata;

    /// <summary>Training state, or null for a weights-only checkpoint.</summary>
    public TrainingState? TrainingState => Manifest.TrainingState;

    /// <summary>Every tensor, in the order written.</summary>
    public IReadOnlyList<TensorDescriptor> Tensors => _tensors;

    /// <summary>Sum of all tensors' byte lengths.</summary>
    public long TotalTensorBytes => _tensors.Sum(t => t.ByteLength);

    /// <summary>True when the checkpoint holds a tensor of that name.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>Descriptor of a tensor; throws <see cref="CheckpointException"/> (MissingTensor) if absent.</summary>
    public TensorDescriptor GetDescriptor(string name) => _tensors[IndexOf(name)];

    /// <summary>True when <paramref name="folder"/> holds a manifest (it may still be damaged).</summary>
    public static bool LooksLikeCheckpoint(string folder) =>
        File.Exists(System.IO.Path.Combine(folder, CheckpointFormat.ManifestFileName));

    /// <summary>Opens a checkpoint folder, validating the manifest and shard file sizes.</summary>
    public static CheckpointReader Open(string path)
    {
        CheckpointFormat.RequireLittleEndian();
        var folder = System.IO.Path.GetFullPath(path);
        var manifestPath = System.IO.Path.Combine(folder, CheckpointFormat.ManifestFileName);
        if (!File.Exists(manifestPath))
            throw new CheckpointException(CheckpointErrorKind.NotFound, folder, null,
                "there is no checkpoint here (no manifest.msgpack).",
                Directory.Exists(folder) ? "Pass a checkpoint folder, or a run folder to use its latest checkpoint." : "Check the path.");

        var length = new FileInfo(manifestPath).Length;
        if (length > CheckpointFormat.MaxManifestBytes)
            throw new CheckpointException(CheckpointErrorKind.Malformed, manifestPath, null,
                $"the manifest is {length} bytes, more than the {CheckpointFormat.MaxManifestBytes} a checkpoint index can need.", DamagedAdvice);
        var manifest = ManifestCodec.Decode(File.ReadAllBytes(manifestPath), manifestPath);
        var tensors = ManifestValidator.Validate(manifest, manifestPath);

        foreach (var shard in manifest.Shards)
        {
            var shardPath = System.IO.Path.Combine(folder, shard.FileName);
            if (!File.Exists(shardPath))
                throw new CheckpointException(CheckpointErrorKind.NotFound, shardPath, null, "the shard file is missing.", DamagedAdvice);
            var actual = new FileInfo(shardPath).Length;
            if (actual < shard.Length)
                throw new CheckpointException(CheckpointErrorKind.Truncated, shardPath, null,
                    $"the shard has {actual} bytes but the manifest says {shard.Length}.", DamagedAdvice);
            if (actual > shard.Length)
                throw new CheckpointException(CheckpointErrorKind.Malformed, shardPath, null,
                    $"the shard has {actual - shard.Length} bytes more than the manifest says.", DamagedAdvice);
        }
        return new CheckpointReader(folder, manifest, tensors);
    }

    /// <summary>
    /// Checks the spec identity and the tensor list before anything is loaded. Optimizer tensors
    /// (<see cref="OptimizerTensorNames"/>) not in <paramref name="expected"/> are allowed when
    /// <paramref name="allowOptimizerState"/> is true.
    /// </summary>
    public void ValidateLayout(SpecIdentity? expectedSpec, IReadOnlyList<TensorDescriptor>? expected, bool allowOptimizerState = true)
    {
        var manifestPath = System.IO.Path.Combine(Path, CheckpointFormat.ManifestFileName);
        if (expectedSpec is not null && (expectedSpec.Name != Manifest.SpecName || expectedSpec.Hash != Manifest.SpecHash))
            throw new CheckpointException(CheckpointErrorKind.SpecMismatch, manifestPath, null,
                $"it was written for {Spec}, but {expectedSpec} was expected.",
                $"Load it with the spec '{Manifest.SpecName}' it was written for, or convert the weights to the new spec.");
        if (expected is null) return;

        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var want in expected)
        {
            expectedNames.Add(want.Name);
            if (!_index.TryGetValue(want.Name, out var i))
                throw new CheckpointException(CheckpointErrorKind.MissingTensor, manifestPath, want.Name,
                    "the checkpoint has no such tensor.", "Check that it belongs to this model spec and was saved completely.");
            var have = _tensors[i];
            if (have.DType != want.DType)
                throw new CheckpointException(CheckpointErrorKind.DTypeMismatch, manifestPath, want.Name,
                    $"stored as {have.DType.Name()}, expected {want.DType.Name()}.", "Convert the checkpoint to the expected dtype.");
            if (!have.Shape.SequenceEqual(want.Shape))
                throw new CheckpointException(CheckpointErrorKind.ShapeMismatch, manifestPath, want.Name,
                    $"shape {have.ShapeText}, expected {want.ShapeText}.", "The checkpoint was written for other model dimensions; use the matching spec.");
        }
        foreach (var have in _tensors)
        {
            if (expectedNames.Contains(have.Name)) continue;
            if (allowOptimizerState && OptimizerTensorNames.IsOptimizerTensor(have.Name)) continue;
            if (RoutingStateTensorNames.IsRoutingState(have.Name)) continue;
            throw new CheckpointException(CheckpointErrorKind.UnexpectedTensor, manifestPath, have.Name,
                "the model has no parameter of that name.", "Check that the checkpoint belongs to this model spec.");
        }
    }

    /// <summary>
    /// Reads every shard once and checks every chunk checksum and every shard checksum, with a
    /// fixed 4 MiB buffer. <paramref name="progress"/> receives bytes verified so far.
    /// </summary>
    public void VerifyChecksums(IProgress<long>? progress = null)
    {
        var chunksByShard = new List<(ChunkEntry Chunk, string Tensor)>[Manifest.Shards.Count];
        for (var s = 0; s < chunksByShard.Length; s++) chunksByShard[s] = [];
        foreach (var t in Manifest.Tensors)
            foreach (var c in t.Chunks) chunksByShard[c.Shard].Add((c, t.Name));

        var buffer = ArrayPool<byte>.Shared.Rent(VerifyBufferBytes);
        try
        {
            long done = 0;
            for (var s = 0; s < chunksByShard.Length; s++)
            {
                var chunks = chunksByShard[s];
                chunks.Sort((a, b) => a.Chunk.Offset.CompareTo(b.Chunk.Offset));
                done += VerifyShard(s, chunks, buffer, done, progress);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads one tensor into <paramref name="destination"/> (exactly its byte length; it may be
    /// pinned host memory of a device buffer), verifying each chunk's checksum. On failure the
    /// destination holds partial data; call <see cref="VerifyChecksums"/> first to avoid that.
    /// </summary>
    public void ReadTensor(string name, Span<byte> destination)
    {
        var entry = Manifest.Tensors[IndexOf(name)];
        if (destination.Length != entry.ByteLength)
            throw new ArgumentException($"Tensor '{name}' has {entry.ByteLength} bytes; the destination has {destination.Length}.", nameof(destination));
        var hash = new XxHash3();
        foreach (var chunk in entry.Chunks)
        {
            var target = destination[..(int)chunk.Length];
            CheckChunkHeader(chunk, name);
            hash.Reset();
            ReadAndHashPipelined(chunk, target, hash);
            CheckChunk(chunk, name, hash.GetCurrentHashAsUInt64());
            destination = destination[(int)chunk.Length..];
        }
    }

    /// <summary>
    /// Reads a chunk payload in pieces, hashing each piece on a pool thread while the next one is
    /// read, so checksumming costs little wall time where a core is free.
    /// </summary>
    private unsafe void ReadAndHashPipelined(ChunkEntry chunk, Span<byte> target, XxHash3 hash)
    {
        fixed (byte* start = target)
        {
            var address = (IntPtr)start;
            Task? hashing = null;
            try
            {
                for (var done = 0; done < target.Length;)
                {
                    var length = Math.Min(PipelinePieceBytes, target.Length - done);
                    ReadExactly(chunk.Shard, chunk.Offset + done, target.Slice(done, length));
                    hashing?.GetAwaiter().GetResult();
                    var pieceAddress = address + done;
                    hashing = Task.Run(() => hash.Append(new ReadOnlySpan<byte>((void*)pieceAddress, length)));
                    done += length;
                }
            }
            finally
            {
                hashing?.GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>Reads an F32 tensor into <paramref name="destination"/> (element count must match).</summary>
    public void ReadTensor(string name, Span<float> destination)
    {
        RequireDType(name, TensorDType.F32);
        ReadElements(name, MemoryMarshal.Cast<float, ushort>(destination));
    }

    /// <summary>Reads a BF16 or F16 tensor as raw 16-bit words.</summary>
    public void ReadTensor(string name, Span<ushort> destination)
    {
        if (GetDescriptor(name).DType == TensorDType.F32) throw new ArgumentException($"Tensor '{name}' is F32, not a 16-bit type.");
        ReadElements(name, destination);
    }

    // A span of bytes holds at most 2 GiB: larger tensors stream in pieces into the 16-bit view
    // (pieces may end inside an element, so they are placed by byte offset).
    private unsafe void ReadElements(string name, Span<ushort> destination)
    {
        long bytes = 2L * destination.Length;
        if (bytes <= int.MaxValue)
        {
            ReadTensor(name, MemoryMarshal.AsBytes(destination));
            return;
        }
        var entry = Manifest.Tensors[IndexOf(name)];
        if (bytes != entry.ByteLength)
            throw new ArgumentException($"Tensor '{name}' has {entry.ByteLength} bytes; the destination has {bytes}.", nameof(destination));
        fixed (ushort* start = destination)
        {
            var address = (IntPtr)start;
            ReadTensorInPieces(name, (offset, piece) => piece.CopyTo(new Span<byte>((byte*)address + offset, piece.Length)));
        }
    }

    /// <summary>
    /// Streams one tensor of any size (also beyond 2 GiB) through <paramref name="sink"/> in pieces
    /// of at most <paramref name="pieceBytes"/>, verifying each chunk when it ends.
    /// </summary>
    public void ReadTensorInPieces(string name, TensorPieceSink sink, int pieceBytes = 8 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceBytes, 1);
        var entry = Manifest.Tensors[IndexOf(name)];
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(pieceBytes, Math.Max(1, entry.ByteLength)));
        try
        {
            var hash = new XxHash3();
            long tensorOffset = 0;
            foreach (var chunk in entry.Chunks)
            {
                CheckChunkHeader(chunk, name);
                hash.Reset();
                for (long done = 0; done < chunk.Length;)
                {
                    var piece = buffer.AsSpan(0, (int)Math.Min(buffer.Length, chunk.Length - done));
                    ReadExactly(chunk.Shard, chunk.Offset + done, piece);
                    hash.Append(piece);
                    sink(tensorOffset, piece);
                    done += piece.Length;
                    tensorOffset += piece.Length;
                }
                CheckChunk(chunk, name, hash.GetCurrentHashAsUInt64());
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Verifies everything, then loads every tensor into a new array (for tests and small models).</summary>
    public IReadOnlyDictionary<string, byte[]> LoadAll()
    {
        VerifyChecksums();
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var t in _tensors)
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
        foreach (var handle in _handles) handle?.Dispose();
    }

    /// <summary>
    /// One pass over a shard: each chunk payload is hashed on its own and checked; everything else
    /// (shard header, bin32 headers) is hashed together with the chunk checksums into the shard
    /// checksum, so every byte is covered while each payload byte is hashed only once.
    /// </summary>
    private long VerifyShard(int s, List<(ChunkEntry Chunk, string Tensor)> chunks, byte[] buffer, long doneBefore, IProgress<long>? progress)
    {
        var entry = Manifest.Shards[s];
        var framing = new XxHash3();
        var chunkHash = new XxHash3();
        Span<byte> checksumBytes = stackalloc byte[sizeof(ulong)];
        var next = 0;
        Handle(s);
        for (long pos = 0; pos < entry.Length;)
        {
            var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, entry.Length - pos));
            ReadExactly(s, pos, span);
            var end = pos + span.Length;
            for (var cursor = pos; cursor < end;)
            {
                if (next < chunks.Count && cursor >= chunks[next].Chunk.Offset)
                {
                    var (c, tensor) = chunks[next];
                    var to = Math.Min(end, c.Offset + c.Length);
                    chunkHash.Append(span[(int)(cursor - pos)..(int)(to - pos)]);
                    cursor = to;
                    if (to < c.Offset + c.Length) continue;
                    var actual = chunkHash.GetCurrentHashAsUInt64();
                    CheckChunk(c, tensor, actual);
                    BinaryPrimitives.WriteUInt64LittleEndian(checksumBytes, actual);
                    framing.Append(checksumBytes);
                    chunkHash.Reset();
                    next++;
                }
                else
                {
                    var to = next < chunks.Count ? Math.Min(end, chunks[next].Chunk.Offset) : end;
                    framing.Append(span[(int)(cursor - pos)..(int)(to - pos)]);
                    cursor = to;
                }
            }
            pos = end;
            progress?.Report(doneBefore + pos);
        }
        if (framing.GetCurrentHashAsUInt64() != entry.Checksum)
            throw new CheckpointException(CheckpointErrorKind.ChecksumMismatch, ShardPath(s), null,
                "the shard does not match its checksum (its header or the framing between tensors is damaged).", DamagedAdvice);
        return entry.Length;
    }

    private void CheckChunkHeader(ChunkEntry chunk, string tensor)
    {
        Span<byte> header = stackalloc byte[CheckpointFormat.Bin32HeaderBytes];
        ReadExactly(chunk.Shard, chunk.Offset - header.Length, header);
        if (!Bin32.Matches(header, chunk.Length))
            throw new CheckpointException(CheckpointErrorKind.Malformed, ShardPath(chunk.Shard), tensor,
                $"no bin32 chunk header of length {chunk.Length} at offset {chunk.Offset - header.Length}.", DamagedAdvice);
    }

    private void CheckChunk(ChunkEntry chunk, string tensor, ulong actual)
    {
        if (actual != chunk.Checksum)
            throw new CheckpointException(CheckpointErrorKind.ChecksumMismatch, ShardPath(chunk.Shard), tensor,
                $"the {chunk.Length} bytes at offset {chunk.Offset} do not match their checksum.", DamagedAdvice);
    }

    private void ReadExactly(int shard, long offset, Span<byte> destination)
    {
        var handle = Handle(shard);
        while (!destination.IsEmpty)
        {
            var n = RandomAccess.Read(handle, destination, offset);
            if (n <= 0)
                throw new CheckpointException(CheckpointErrorKind.Truncated, ShardPath(shard), null,
                    $"the shard ended at offset {offset} while reading.", DamagedAdvice);
            destination = destination[n..];
            offset += n;
        }
    }

    private SafeFileHandle Handle(int shard)
    {
        if (_handles[shard] is { } open) return open;
        var handle = File.OpenHandle(ShardPath(shard), FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            Span<byte> prefix = stackalloc byte[(int)Math.Min(CheckpointFormat.MaxShardHeaderBytes, Manifest.Shards[shard].Length)];
            var n = RandomAccess.Read(handle, prefix, 0);
            ManifestCodec.ValidateShardHeader(prefix[..n], Manifest.CheckpointId, shard, ShardPath(shard));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        _handles[shard] = handle;
        return handle;
    }

    private void RequireDType(string name, TensorDType dtype)
    {
        var have = GetDescriptor(name).DType;
        if (have != dtype) throw new ArgumentException($"Tensor '{name}' is {have.Name()}, not {dtype.Name()}.");
    }

    private int IndexOf(string name) =>
        _index.TryGetValue(name, out var i) ? i
        : throw new CheckpointException(CheckpointErrorKind.MissingTensor, Path, name, "the checkpoint has no such tensor.",
            "Check the tensor name and that the checkpoint belongs to this model.");

    private string ShardPath(int shard) => System.IO.Path.Combine(Path, Manifest.Shards[shard].FileName);
}
