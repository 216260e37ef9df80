namespace OpenMoE.Runtime.Checkpoints;

/// <summary>What went wrong with a checkpoint or safetensors file.</summary>
public enum CheckpointErrorKind
{
    /// <summary>The path, the manifest or a shard file does not exist.</summary>
    NotFound,
    /// <summary>A file is shorter than its index says (an interrupted copy or save).</summary>
    Truncated,
    /// <summary>Stored bytes do not match their checksum (bit rot, a bad copy, tampering).</summary>
    ChecksumMismatch,
    /// <summary>A tensor the caller expects is not in the file.</summary>
    MissingTensor,
    /// <summary>The file holds a tensor the caller does not expect.</summary>
    UnexpectedTensor,
    /// <summary>A tensor's shape differs from the expected one.</summary>
    ShapeMismatch,
    /// <summary>A tensor's element type differs from the expected one.</summary>
    DTypeMismatch,
    /// <summary>The checkpoint was written for another model spec.</summary>
    SpecMismatch,
    /// <summary>The file was written by a newer or unknown format version.</summary>
    UnsupportedVersion,
    /// <summary>A tensor uses an element type this build does not support.</summary>
    UnsupportedDType,
    /// <summary>The structure of a file is invalid (bad header, lengths or offsets).</summary>
    Malformed,
}

/// <summary>
/// The one exception type that checkpoint and safetensors reading throws for any problem
/// with the data on disk. The message names the file, the tensor (when there is one) and
/// what to do about it.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception; <paramref name="advice"/> is appended to the message.</summary>
    public CheckpointException(CheckpointErrorKind kind, string file, string? tensor, string problem, string advice, Exception? inner = null)
        : base(Compose(kind, file, tensor, problem, advice), inner)
    {
        Kind = kind;
        FilePath = file;
        TensorName = tensor;
    }

    /// <summary>Category of the problem.</summary>
    public CheckpointErrorKind Kind { get; }

    /// <summary>The file (or folder) where the problem was found.</summary>
    public string FilePath { get; }

    /// <summary>The tensor concerned, or null when the problem is not about one tensor.</summary>
    public string? TensorName { get; }

    private static string Compose(CheckpointErrorKind kind, string file, string? tensor, string problem, string advice)
    {
        var where = tensor is null ? $"'{file}'" : $"'{file}', tensor '{tensor}'";
        return $"{kind}: {where}: {problem} {advice}";
    }
}
