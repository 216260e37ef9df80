using System.Globalization;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// A run folder of step-named checkpoints (<c>step-00001000</c>, ...): where the next one goes,
/// which is the latest complete one, and keep-last-N rotation. Temporary folders of interrupted
/// saves (<see cref="CheckpointWriter.IsTemporaryName"/>) are never listed.
/// </summary>
public sealed class CheckpointRun
{
    private const string StepPrefix = "step-";

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

    /// <summary>Deletes all but the newest <see cref="KeepLast"/> checkpoints; returns the deleted folders.</summary>
    public IReadOnlyList<string> Rotate()
    {
        var all = List();
        var deleted = new List<string>();
        for (var i = 0; i < all.Count - KeepLast; i++)
        {
            System.IO.Directory.Delete(all[i].Path, recursive: true);
            deleted.Add(all[i].Path);
        }
        return deleted;
    }

    /// <summary>
    /// Resolves what a user passed: a checkpoint folder as is; a run folder, or <c>RUN/latest</c>,
    /// to the run's newest committed checkpoint. Throws <see cref="CheckpointException"/> (NotFound) otherwise.
    /// </summary>
    public static string Resolve(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (CheckpointReader.LooksLikeCheckpoint(full)) return full;
        var run = System.IO.Path.GetFileName(full) == "latest" && !System.IO.Directory.Exists(full)
            ? System.IO.Path.GetDirectoryName(full)!
            : full;
        return new CheckpointRun(run).Latest()
            ?? throw new CheckpointException(CheckpointErrorKind.NotFound, full, null,
                "this is neither a checkpoint folder nor a run folder with a complete step-N checkpoint.",
                "Pass a checkpoint folder (it contains manifest.msgpack) or a run folder.");
    }
}
