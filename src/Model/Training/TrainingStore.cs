using System.Text.Json;
using OpenMoE.Model.Data;

namespace OpenMoE.Model.Training;

/// <summary>Everything besides tensors that a resumed run needs (JSON-friendly).</summary>
public sealed record TrainingState
{
    /// <summary>Updates completed.</summary>
    public required long Step { get; init; }
    /// <summary>Spec trained.</summary>
    public required string Spec { get; init; }
    /// <summary>Optimizer name (its state tensors are stored alongside).</summary>
    public required string Optimizer { get; init; }
    /// <summary>Run seed.</summary>
    public required ulong Seed { get; init; }
    /// <summary>Where the data pipeline stands after <see cref="Step"/> batches.</summary>
    public required PipelineState Data { get; init; }
    /// <summary>Total loss of the last step (for the log).</summary>
    public double LastLoss { get; init; }
}

/// <summary>One saved training step: state, weights and optimizer tensors by name.</summary>
public sealed record TrainingCheckpoint(TrainingState State, IReadOnlyDictionary<string, float[]> Weights, IReadOnlyDictionary<string, float[]> Optimizer);

/// <summary>
/// Where a run's checkpoints go. The trainer only talks to this interface, so the checkpoint
/// format (MessagePack, sharded, checksummed) plugs in here. A save must be atomic: a crash or a
/// diverged step never leaves a half-written checkpoint as the latest.
/// </summary>
public interface ITrainingStore
{
    /// <summary>Saves <paramref name="checkpoint"/> and makes it the latest.</summary>
    void Save(TrainingCheckpoint checkpoint);

    /// <summary>The latest checkpoint, or null when the run has none.</summary>
    TrainingCheckpoint? LoadLatest();

    /// <summary>Step of the latest checkpoint, or null.</summary>
    long? LatestStep { get; }
}

/// <summary>
/// Minimal interim store: RUN/checkpoints/step-NNNNNNNN/ with state.json, weights.bin and
/// optimizer.bin (a count, then per tensor: name, length, little-endian floats), written to a
/// temporary folder and renamed, then RUN/checkpoints/latest (the folder name) replaced atomically.
/// </summary>
public sealed class FolderTrainingStore(string runDirectory) : ITrainingStore
{
    private string Root => Path.Combine(runDirectory, "checkpoints");
    private string LatestFile => Path.Combine(Root, "latest");

    /// <inheritdoc />
    public long? LatestStep => File.Exists(LatestFile) ? long.Parse(File.ReadAllText(LatestFile).Trim()["step-".Length..], System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>Folder of the checkpoint of <paramref name="step"/>.</summary>
    public string FolderOf(long step) => Path.Combine(Root, $"step-{step:D8}");

    /// <inheritdoc />
    public void Save(TrainingCheckpoint checkpoint)
    {
        Directory.CreateDirectory(Root);
        string final = FolderOf(checkpoint.State.Step);
        string temporary = final + ".tmp";
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        File.WriteAllText(Path.Combine(temporary, "state.json"), JsonSerializer.Serialize(checkpoint.State, JsonOptions));
        WriteTensors(Path.Combine(temporary, "weights.bin"), checkpoint.Weights);
        WriteTensors(Path.Combine(temporary, "optimizer.bin"), checkpoint.Optimizer);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temporary, final);
        string latestTemporary = LatestFile + ".tmp";
        File.WriteAllText(latestTemporary, Path.GetFileName(final));
        File.Move(latestTemporary, LatestFile, overwrite: true);
    }

    /// <inheritdoc />
    public TrainingCheckpoint? LoadLatest()
    {
        if (LatestStep is not { } step)
            return null;
        string folder = FolderOf(step);
        var state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(Path.Combine(folder, "state.json")), JsonOptions)
            ?? throw new InvalidDataException($"Empty training state in {folder}.");
        return new TrainingCheckpoint(state, ReadTensors(Path.Combine(folder, "weights.bin")), ReadTensors(Path.Combine(folder, "optimizer.bin")));
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static void WriteTensors(string path, IReadOnlyDictionary<string, float[]> tensors)
    {
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(tensors.Count);
        foreach (var (name, values) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            writer.Write(name);
            writer.Write(values.Length);
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    private static Dictionary<string, float[]> ReadTensors(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        int count = reader.ReadInt32();
        var tensors = new Dictionary<string, float[]>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            var values = new float[reader.ReadInt32()];
            int read = reader.Read(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            if (read != values.Length * sizeof(float))
                throw new InvalidDataException($"Tensor '{name}' in {path} is truncated.");
            tensors[name] = values;
        }
        return tensors;
    }
}
