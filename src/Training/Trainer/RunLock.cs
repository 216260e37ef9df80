using System.Diagnostics;
using System.Globalization;

namespace OpenMoE.Training;

/// <summary>
/// Exclusive use of a run folder by one process. The lock is the operating system's lock on
/// <c>RUN/.lock</c> (held open with <see cref="FileShare.None"/>, an advisory <c>flock</c> on Linux),
/// so it dies with its process, even after kill -9: a lock left by a dead process is free to take,
/// and the kernel decides which of two starting processes gets it. <c>RUN/.lock.owner</c> says who
/// holds it, for the message; a record there that outlived its holder names the dead process whose
/// lock was taken over. The lock file itself stays (deleting it could let two processes lock two files).
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>File name of the lock in the run folder.</summary>
    public const string FileName = ".lock";
    private const string OwnerFileName = ".lock.owner";

    private readonly FileStream _file;
    private readonly string _ownerPath;

    private RunLock(FileStream file, string ownerPath, string? previousOwner)
    {
        _file = file;
        _ownerPath = ownerPath;
        TookOverFrom = previousOwner;
    }

    /// <summary>The owner record of a holder that died without releasing the lock, or null.</summary>
    public string? TookOverFrom { get; }

    /// <summary>Locks <paramref name="runDirectory"/> (created if needed); throws <see cref="RunFolderException"/> when another process holds it.</summary>
    public static RunLock Acquire(string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        var path = Path.Combine(runDirectory, FileName);
        var ownerPath = Path.Combine(runDirectory, OwnerFileName);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new RunFolderException(
                $"Run folder '{runDirectory}' is in use by another openmoe process ({ReadOwner(ownerPath) ?? "owner unknown"}). " +
                "Wait for it to finish, or choose another --out.", ex);
        }
        string? previous = ReadOwner(ownerPath);
        File.WriteAllText(ownerPath, Describe(Environment.ProcessId));
        return new RunLock(file, ownerPath, previous);
    }

    /// <summary>Releases the lock (the owner record is removed first, so it never names a live process wrongly).</summary>
    public void Dispose()
    {
        try { File.Delete(_ownerPath); }
        catch (IOException) { }
        _file.Dispose();
    }

    private static string Describe(int pid) => string.Create(CultureInfo.InvariantCulture,
        $"process {pid} ({Process.GetCurrentProcess().ProcessName}) on {Environment.MachineName} since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");

    private static string? ReadOwner(string ownerPath)
    {
        try { return File.Exists(ownerPath) ? File.ReadAllText(ownerPath).Trim() is { Length: > 0 } text ? text : null : null; }
        catch (IOException) { return null; }
    }
}
