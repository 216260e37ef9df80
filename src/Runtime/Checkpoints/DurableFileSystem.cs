using System.Runtime.InteropServices;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// fsync of directories, so a rename or a new file survives a power loss, not only a crash.
/// .NET flushes files (<see cref="FileStream.Flush(bool)"/>) but has no API for directories.
/// </summary>
internal static partial class DurableFileSystem
{
    private const int ReadOnly = 0;

    /// <summary>Flushes a directory's entries to disk where the OS supports it (Linux, macOS); a no-op elsewhere.</summary>
    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = Open(directory, ReadOnly);
        if (fd < 0) return;
        try
        {
            Fsync(fd);
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
