using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Training;

/// <summary>
/// A training run's folder (<c>metrics.jsonl</c>, <c>loss.png</c>, <c>checkpoints/step-N</c>) guarded
/// for one run: locked for this process (<see cref="RunLock"/>), cleared of what interrupted saves and
/// rotations left behind, and never silently reused: a fresh run into a folder that holds a run
/// refuses unless it resumes or overwrites.
/// </summary>
public sealed class RunFolder : IDisposable
{
    /// <summary>The metrics log's file name.</summary>
    public const string MetricsFileName = "metrics.jsonl";
    /// <summary>The checkpoints' folder name.</summary>
    public const string CheckpointsFolderName = "checkpoints";
    private static readonly string[] RunFiles = [MetricsFileName, "loss.png"];

    private readonly RunLock _lock;
    private readonly List<string> _notes = [];

    private RunFolder(string directory, RunLock runLock)
    {
        Directory = directory;
        _lock = runLock;
    }

    /// <summary>The run folder.</summary>
    public string Directory { get; }

    /// <summary>What opening did that the user should know: a stale lock taken over, leftovers removed, a run overwritten.</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>
    /// Locks <paramref name="directory"/> and prepares it. Without <paramref name="resume"/>, a folder
    /// holding a run is an error (<see cref="ArgumentException"/>) unless <paramref name="overwrite"/>,
    /// which deletes that run's metrics, plot and checkpoints (nothing else in the folder).
    /// </summary>
    public static RunFolder Open(string directory, bool resume, bool overwrite)
    {
        if (resume && overwrite)
            throw new ArgumentException("--resume and --overwrite contradict each other; pass one of them.");
        var full = Path.GetFullPath(directory);
        var runLock = RunLock.Acquire(full);
        var folder = new RunFolder(full, runLock);
        try
        {
            folder.Prepare(resume, overwrite);
            return folder;
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    private void Prepare(bool resume, bool overwrite)
    {
        if (_lock.TookOverFrom is { } dead)
            _notes.Add($"took over the lock of {Directory} left by {dead}, which no longer holds it");
        var checkpoints = new CheckpointRun(Path.Combine(Directory, CheckpointsFolderName));
        foreach (var leftover in checkpoints.RemoveLeftovers())
            _notes.Add($"removed {leftover}, left by an interrupted save or rotation");
        if (resume || !HoldsRun(checkpoints))
            return;
        if (!overwrite)
        {
            var latest = checkpoints.List() is { Count: > 0 } all ? $"checkpoints up to step {all[^1].Step}" : "a metrics log";
            throw new ArgumentException(
                $"--out '{Directory}' already holds a run ({latest}). Pass --resume to continue it, --overwrite to replace it, or another --out.");
        }
        foreach (var file in RunFiles)
            File.Delete(Path.Combine(Directory, file));
        if (System.IO.Directory.Exists(checkpoints.Directory))
            System.IO.Directory.Delete(checkpoints.Directory, recursive: true);
        _notes.Add($"--overwrite: deleted the previous run in {Directory}");
    }

    private bool HoldsRun(CheckpointRun checkpoints) =>
        checkpoints.List().Count > 0 || new FileInfo(Path.Combine(Directory, MetricsFileName)) is { Exists: true, Length: > 0 };

    /// <inheritdoc />
    public void Dispose() => _lock.Dispose();
}
