namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Structural checks of a deserialized manifest against itself and the real shard file sizes,
/// so nothing later trusts a length or offset that points outside the files.
/// </summary>
internal static class ManifestValidator
{
    private const string Advice = "The checkpoint is damaged; restore it from a backup or use an older checkpoint.";

    /// <summary>Validates and returns the tensor descriptors in manifest order.</summary>
    public static List<TensorDescriptor> Validate(CheckpointManifest m, string manifestFile)
    {
        if (m.CheckpointId is null || m.SpecName is null || m.SpecHash is null || m.Metadata is null
            || m.Shards is null || m.Tensors is null || m.ChecksumAlgorithm != CheckpointFormat.ChecksumAlgorithm)
            throw Malformed(manifestFile, null, "a required manifest field is missing or has an unknown value.");

        for (var i = 0; i < m.Shards.Count; i++)
        {
            var shard = m.Shards[i];
            if (shard is null || shard.FileName != CheckpointFormat.ShardFileName(i) || shard.Length < 0)
                throw Malformed(manifestFile, null, $"shard entry {i} is invalid.");
        }

        var descriptors = new List<TensorDescriptor>(m.Tensors.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ranges = new List<(int Shard, long Start, long End, string Tensor)>();
        foreach (var t in m.Tensors)
        {
            if (t is null || string.IsNullOrEmpty(t.Name) || t.Shape is null || t.Chunks is null)
                throw Malformed(manifestFile, null, "a tensor entry is incomplete.");
            if (!names.Add(t.Name)) throw Malformed(manifestFile, t.Name, "the tensor name appears twice.");
            var dtype = (TensorDType)t.DType;
            if (!TensorDTypes.IsDefined(dtype))
                throw new CheckpointException(CheckpointErrorKind.UnsupportedDType, manifestFile, t.Name,
                    $"dtype code {t.DType} is not supported (F32, BF16, F16 are).", "Use the openmoe version that wrote it.");
            if (t.Shape.Length > TensorDescriptor.MaxRank || TensorDescriptor.CheckedProduct(t.Shape) is not { } count)
                throw Malformed(manifestFile, t.Name, "the shape is invalid.");
            if (count * dtype.ElementSize() != t.ByteLength)
                throw Malformed(manifestFile, t.Name, $"byte length {t.ByteLength} does not match shape [{string.Join(", ", t.Shape)}] of {dtype.Name()}.");

            long total = 0;
            foreach (var c in t.Chunks)
            {
                if (c is null || c.Shard < 0 || c.Shard >= m.Shards.Count || c.Length <= 0 || c.Length > int.MaxValue
                    || c.Offset < CheckpointFormat.Bin32HeaderBytes || c.Offset > m.Shards[c.Shard].Length - c.Length)
                    throw Malformed(manifestFile, t.Name, "a chunk lies outside its shard file.");
                total += c.Length;
                ranges.Add((c.Shard, c.Offset - CheckpointFormat.Bin32HeaderBytes, c.Offset + c.Length, t.Name));
            }
            if (total != t.ByteLength)
                throw Malformed(manifestFile, t.Name, $"its chunks hold {total} bytes but the tensor has {t.ByteLength}.");
            descriptors.Add(new TensorDescriptor(t.Name, dtype, t.Shape));
        }

        ranges.Sort((a, b) => a.Shard != b.Shard ? a.Shard.CompareTo(b.Shard) : a.Start.CompareTo(b.Start));
        for (var i = 1; i < ranges.Count; i++)
            if (ranges[i].Shard == ranges[i - 1].Shard && ranges[i].Start < ranges[i - 1].End)
                throw Malformed(manifestFile, ranges[i].Tensor, $"its bytes overlap tensor '{ranges[i - 1].Tensor}'.");
        return descriptors;
    }

    private static CheckpointException Malformed(string file, string? tensor, string problem) =>
        new(CheckpointErrorKind.Malformed, file, tensor, problem, Advice);
}
