using System.Globalization;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Runtime.SafeTensors;

/// <summary>
/// Converts between safetensors weights and OpenMoE checkpoints, streaming tensor by tensor;
/// tensor bytes are copied unchanged, so a round trip is byte-identical.
/// </summary>
public static class SafeTensorsConverter
{
    /// <summary>Metadata key holding the spec name in exported safetensors.</summary>
    public const string SpecNameKey = "openmoe.spec_name";

    /// <summary>Metadata key holding the spec hash in exported safetensors.</summary>
    public const string SpecHashKey = "openmoe.spec_hash";

    /// <summary>Metadata key holding the training step in exported safetensors.</summary>
    public const string StepKey = "openmoe.step";

    /// <summary>
    /// Imports safetensors weights into a new checkpoint. The spec identity is
    /// <paramref name="spec"/>, else the one recorded by <see cref="ToSafeTensors"/> in the metadata.
    /// </summary>
    public static string ToCheckpoint(string source, string checkpointPath, SpecIdentity? spec = null, CheckpointWriteOptions? options = null)
    {
        using var set = SafeTensorsSet.Open(source);
        spec ??= set.Metadata.TryGetValue(SpecNameKey, out var name) && set.Metadata.TryGetValue(SpecHashKey, out var hash)
            ? new SpecIdentity(name, hash)
            : throw new ArgumentException($"'{source}' does not record a model spec; pass the spec name and hash (--spec-name, --spec-hash).");
        var step = set.Metadata.TryGetValue(StepKey, out var stepText) && long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;

        using var writer = CheckpointWriter.Create(checkpointPath, spec, options);
        foreach (var tensor in set.Tensors)
        {
            var stream = writer.BeginTensor(tensor);
            set.ReadTensorInPieces(tensor.Name, (_, piece) => stream.Write(piece));
            stream.Complete();
        }
        var metadata = CheckpointMetadata.Now(step);
        metadata.Extra["converted_from"] = Path.GetFullPath(source);
        return writer.Commit(metadata);
    }

    /// <summary>
    /// Exports a checkpoint's weights (not its optimizer tensors unless asked) to safetensors,
    /// after verifying every checksum. See <see cref="SafeTensorsExport.Write"/> for <paramref name="output"/>.
    /// </summary>
    public static IReadOnlyList<string> ToSafeTensors(string checkpointPath, string output, long maxShardBytes = 5L << 30,
        bool includeOptimizerState = false, IProgress<long>? verifyProgress = null)
    {
        using var reader = CheckpointReader.Open(CheckpointRun.Resolve(checkpointPath));
        reader.VerifyChecksums(verifyProgress);
        // Routing state (the expert bias) has no Hugging Face name: safetensors hold the parameters (and optimizer state when asked).
        var tensors = reader.Tensors.Where(t => (includeOptimizerState || !OptimizerTensorNames.IsOptimizerTensor(t.Name))
            && !RoutingStateTensorNames.IsRoutingState(t.Name)).ToList();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            [SpecNameKey] = reader.Spec.Name,
            [SpecHashKey] = reader.Spec.Hash,
            [StepKey] = reader.Metadata.Step.ToString(CultureInfo.InvariantCulture),
        };
        return SafeTensorsExport.Write(output, tensors,
            (tensor, writer) => reader.ReadTensorInPieces(tensor.Name, (_, piece) => writer.Write(piece)), metadata, maxShardBytes);
    }
}
