using System.Globalization;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// A folder of step-named checkpoints (<c>step-00001000</c>, ...): where the next one goes,
/// which is the latest complete one, and keep-last-N rotation. Temporary folders of interrupted
/// saves (<see cref="CheckpointWriter.IsTemporaryName"/>) and of interrupted rotations are never
/// listed, and <see cref="RemoveLeftovers"/> deletes them. A training run keeps this folder at
/// <c>RUN/checkpoints</c>; <see cref="Resolve"/> accepts the run folder as well.
/// </summary>
public sealed class CheckpointRun
{
    private const string StepPrefix = "step-";

    /// <summary>Subfolder of a training run that holds its checkpoints.</summary>
    public const string RunCheckpointsFolder = "checkpoints";

    /// <summary>Marker in the names of folders being deleted by rotation: renamed first, so a kill mid-delete never leaves a half checkpoint under a step name.</summary>
    public const string DeletingMarker = ".deleting-";

    /// <summary>A run folder keeping the newest <paramref name="keepLast"/> checkpoints.</summary>
    public CheckpointRun(string directory, int keepLast = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepLast, 1);
        Directory = System.IO.Path.GetFullPath(directory);
        KeepLast = keepLast;
    }

    /// <summary>The run folder.</summary>
    public string Directory { get; }

    /// <summary>How many checkpoints <see cref="Rotate"/> keeps.</summary>
    public int KeepLast { get; }

    /// <summary>
    /// How <see cref="Rotate"/> deletes a folder it has renamed out of the listing (recursively; a test
    /// stands in a deleter that dies half-way, as a kill would).
    /// </summary>
    public Action<string> DeleteFolder { get; init; } = path => System.IO.Directory.Delete(path, recursive: true);

    /// <summary>Folder for the checkpoint of <paramref name="step"/>.</summary>
    public string PathForStep(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        return System.IO.Path.Combine(Directory, $"{StepPrefix}{step.ToString("D8", CultureInfo.InvariantCulture)}");
    }

    /// <summary>Committed checkpoints (folders with a manifest), oldest first.</summary>
    public IReadOnlyList<(long Step, string Path)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var found = new List<(long, string)>();
        foreach (var folder in System.IO.Directory.EnumerateDirectories(Directory))
        {
            var name = System.IO.Path.GetFileName(folder);
            if (CheckpointWriter.IsTemporaryName(name) || !name.StartsWith(StepPrefix, StringComparison.Ordinal)) continue;
            if (!long.TryParse(name.AsSpan(StepPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var step)) continue;
            if (CheckpointReader.LooksLikeCheckpoint(folder)) found.Add((step, folder));
        }
        found.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return found;
    }

    /// <summary>The newest committed checkpoint, or null when there is none.</summary>
    public string? Latest() => List() is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>
    /// Deletes all but the newest <see cref="KeepLast"/> checkpoints, never <paramref name="justWritten"/>
    /// (a checkpoint of an older step than the ones already there still survives its own save); returns
    /// the deleted folders. Each is first renamed to a hidden <see cref="DeletingMarker"/> name, then deleted.
    /// </summary>
    public IReadOnlyList<string> Rotate(string? justWritten = null)
    {
        var keep = justWritten is null ? null : System.IO.Path.GetFullPath(justWritten);
        var candidates = List().Where(c => !string.Equals(c.Path, keep, StringComparison.Ordinal)).ToList();
        int keepOthers = keep is null ? KeepLast : KeepLast - 1;
        var deleted = new List<string>();
        for (var i = 0; i < candidates.Count - keepOthers; i++)
        {
            var path = candidates[i].Path;
            var trash = System.IO.Path.Combine(Directory, $".{System.IO.Path.GetFileName(path)}{DeletingMarker}{Guid.NewGuid():N}");
            System.IO.Directory.Move(path, trash);
            DeleteFolder(trash);
            deleted.Add(path);
        }
        return deleted;
    }

    /// <summary>
    /// Deletes what interrupted saves and rotations left: hidden <c>.partial-</c> and <c>.deleting-</c>
    /// folders, and step folders without a manifest. Call it only while no other process writes here
    /// (the trainer holds the run's lock). Returns the names removed.
    /// </summary>
    public IReadOnlyList<string> RemoveLeftovers()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var removed = new List<string>();
        foreach (var folder in System.IO.Directory.EnumerateDirectories(Directory))
        {
            var name = System.IO.Path.GetFileName(folder);
            bool leftover = CheckpointWriter.IsTemporaryName(name) || (name.StartsWith('.') && name.Contains(DeletingMarker, StringComparison.Ordinal))
                || (name.StartsWith(StepPrefix, StringComparison.Ordinal) && !CheckpointReader.LooksLikeCheckpoint(folder));
            if (!leftover) continue;
            System.IO.Directory.Delete(folder, recursive: true);
            removed.Add(name);
        }
        return removed;
    }

    /// <summary>
    /// Resolves what a user passed: a checkpoint folder as is; a training run folder (checkpoints in
    /// <c>RUN/checkpoints/step-N</c>), a folder of step-N checkpoints, or either followed by <c>/latest</c>,
    /// to the newest committed checkpoint. Throws <see cref="CheckpointException"/> (NotFound) otherwise.
    /// </summary>
    public static string Resolve(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (CheckpointReader.LooksLikeCheckpoint(full)) return full;
        var run = System.IO.Path.GetFileName(full) == "latest" && !System.IO.Directory.Exists(full)
            ? System.IO.Path.GetDirectoryName(full)!
            : full;
        return new CheckpointRun(run).Latest()
            ?? new CheckpointRun(System.IO.Path.Combine(run, RunCheckpointsFolder)).Latest()
            ?? throw new CheckpointException(CheckpointErrorKind.NotFound, full, null,
                "this is neither a checkpoint folder nor a run folder with a complete checkpoints/step-N checkpoint.",
                "Pass a checkpoint folder (it contains manifest.msgpack) or a run folder.");
    }
}
