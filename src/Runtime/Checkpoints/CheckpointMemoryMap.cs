using System.IO.MemoryMappedFiles;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// A checkpoint's shards mapped into memory, so a tensor stored in one chunk can be used in place:
/// the OS pages its bytes in as they are touched and nothing is copied (a model larger than RAM can
/// still run; experts never routed to are never read). Mappings are copy-on-write: a write to a
/// mapped tensor stays private to this process and never reaches the file. Shard lengths are
/// checked against the manifest when the map is made (a truncated shard is a
/// <see cref="CheckpointErrorKind.Truncated"/> error); checksums are the caller's to verify
/// (<see cref="CheckpointReader.VerifyChecksums"/>) before trusting the bytes. A shard that another
/// program truncates or rewrites in place while it is mapped is caught by <see cref="Check"/>, which the
/// model runs before every forward: a <see cref="CheckpointException"/>, not a crash. A truncation in the
/// middle of a forward cannot be caught by any check: the kernel then ends the process with SIGBUS.
/// (openmoe's own writers never rewrite in place: they write a new folder and rename it.)
/// </summary>
public sealed unsafe class CheckpointMemoryMap : IDisposable
{
    /// <summary>Each tensor's manifest entry by name.</summary>
    private readonly Dictionary<string, TensorEntry> _entries;
    private readonly Shard[] _shards;

    /// <summary>One mapped shard: the open file (kept to see later changes to it), the mapping, and the file's length and time when mapped.</summary>
    private readonly record struct Shard(string Path, FileStream Stream, MemoryMappedFile File, MemoryMappedViewAccessor View, IntPtr Base, long Length, DateTime Written);

    private CheckpointMemoryMap(CheckpointReader reader, Shard[] shards)
    {
        _entries = reader.Manifest.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _shards = shards;
    }

    /// <summary>Maps every shard of <paramref name="reader"/>'s checkpoint.</summary>
    public static CheckpointMemoryMap Open(CheckpointReader reader)
    {
        var shards = new Shard[reader.Manifest.Shards.Count];
        int mapped = 0;
        try
        {
            for (; mapped < shards.Length; mapped++)
                shards[mapped] = Map(reader, mapped);
            return new CheckpointMemoryMap(reader, shards);
        }
        catch
        {
            for (int s = 0; s < mapped; s++)
                Release(shards[s]);
            throw;
        }
    }

    private static Shard Map(CheckpointReader reader, int shard)
    {
        var entry = reader.Manifest.Shards[shard];
        string path = Path.Combine(reader.Path, entry.FileName);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            if (stream.Length != entry.Length)
                throw new CheckpointException(stream.Length < entry.Length ? CheckpointErrorKind.Truncated : CheckpointErrorKind.Malformed, path, null,
                    $"the shard has {stream.Length} bytes but the manifest says {entry.Length}.", CheckpointReader.DamagedAdvice);
            var written = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
            var file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: true);
            try
            {
                var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.CopyOnWrite);
                byte* address = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref address);
                return new Shard(path, stream, file, view, (IntPtr)(address + view.PointerOffset), entry.Length, written);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Throws a <see cref="CheckpointException"/> when a mapped shard file has been truncated, extended or
    /// rewritten since it was mapped (its open file's length or modification time differ), before a
    /// kernel touches a page that is gone: a few fstat calls, run before every forward.
    /// </summary>
    public void Check()
    {
        foreach (var shard in _shards)
        {
            long length = RandomAccess.GetLength(shard.Stream.SafeFileHandle);
            if (length != shard.Length || File.GetLastWriteTimeUtc(shard.Stream.SafeFileHandle) != shard.Written)
                throw new CheckpointException(length < shard.Length ? CheckpointErrorKind.Truncated : CheckpointErrorKind.Malformed, shard.Path, null,
                    length == shard.Length
                        ? "the shard was rewritten while its weights were memory-mapped."
                        : $"the shard changed from {shard.Length} to {length} bytes while its weights were memory-mapped.",
                    "Do not modify a checkpoint in use; run the command again (with --no-mmap the weights are copied at start instead).");
        }
    }

    /// <summary>
    /// The address of tensor <paramref name="name"/>'s bytes when they lie in one chunk whose offset
    /// suits <paramref name="alignment"/> (checkpoints written before payload alignment, and tensors
    /// above 2 GiB, which span chunks, do not); otherwise false, and the caller copies.
    /// </summary>
    public bool TryGet(string name, int alignment, out IntPtr address, out long bytes)
    {
        address = 0;
        bytes = 0;
        if (!_entries.TryGetValue(name, out var entry))
            return false;
        if (entry.Chunks.Count != 1 || entry.Chunks[0].Offset % alignment != 0)
            return false;
        var chunk = entry.Chunks[0];
        address = _shards[chunk.Shard].Base + (nint)chunk.Offset;
        bytes = chunk.Length;
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var shard in _shards)
            Release(shard);
    }

    private static void Release(Shard shard)
    {
        shard.View.SafeMemoryMappedViewHandle.ReleasePointer();
        shard.View.Dispose();
        shard.File.Dispose();
        shard.Stream.Dispose();
    }
}
