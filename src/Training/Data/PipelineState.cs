using OpenMoE.Training.Objectives;
using System.Text.Json;
using MessagePack;

namespace OpenMoE.Training.Data;

/// <summary>
/// Where the data pipeline stands, small enough to store with every checkpoint: the generator
/// state and, per source, which pass over it (epoch), which document of that pass, and which
/// token of that document comes next. Restoring it continues the stream exactly.
/// </summary>
[MessagePackObject]
public sealed record PipelineState
{
    /// <summary>Seed the pipeline was created with (document orders derive from it).</summary>
    [Key(0)] public required ulong Seed { get; init; }
    /// <summary><see cref="DataRng.State"/> of the pipeline's generator.</summary>
    [Key(1)] public required ulong RngState { get; init; }
    /// <summary>Source names, so a state is not restored onto different data.</summary>
    [Key(2)] public required string[] Sources { get; init; }
    /// <summary>Per source: completed passes over its documents.</summary>
    [Key(3)] public required long[] Epochs { get; init; }
    /// <summary>Per source: index of the current document within this pass's order.</summary>
    [Key(4)] public required int[] DocumentIndices { get; init; }
    /// <summary>Per source: next token of the current document.</summary>
    [Key(5)] public required int[] TokenOffsets { get; init; }

    /// <summary>JSON form, for metadata files.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Parses <see cref="ToJson"/> output.</summary>
    public static PipelineState FromJson(string json) =>
        JsonSerializer.Deserialize<PipelineState>(json) ?? throw new InvalidDataException("Empty pipeline state.");

    /// <summary>Value equality over the arrays too (records compare arrays by reference).</summary>
    public bool SameAs(PipelineState other) =>
        Seed == other.Seed && RngState == other.RngState && Sources.SequenceEqual(other.Sources) &&
        Epochs.SequenceEqual(other.Epochs) && DocumentIndices.SequenceEqual(other.DocumentIndices) &&
        TokenOffsets.SequenceEqual(other.TokenOffsets);
}
