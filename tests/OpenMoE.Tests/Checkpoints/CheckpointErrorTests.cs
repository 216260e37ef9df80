using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

public class CheckpointErrorTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly TensorDescriptor[] _tensors = CheckpointTestData.Descriptors();
    private readonly Dictionary<string, byte[]> _data;
    private readonly string _path;

    public CheckpointErrorTests()
    {
        _data = CheckpointTestData.RandomData(_tensors, seed: 11);
        _path = CheckpointTestData.Write(_temp.Sub("ckpt"), _tensors, _data);
    }

    public void Dispose() => _temp.Dispose();

    private static CheckpointException LoadFails(string path, CheckpointErrorKind kind)
    {
        var e = Assert.Throws<CheckpointException>(() =>
        {
            using var reader = CheckpointReader.Open(path);
            reader.LoadAll();
        });
        Assert.Equal(kind, e.Kind);
        return e;
    }

    private ChunkEntry FirstChunkOf(string tensor)
    {
        using var reader = CheckpointReader.Open(_path);
        return reader.Manifest.Tensors.Single(t => t.Name == tensor).Chunks[0];
    }

    private string ShardFile(int shard) => Path.Combine(_path, CheckpointFormat.ShardFileName(shard));

    [Fact]
    public void A_flipped_payload_byte_is_a_checksum_mismatch_naming_file_and_tensor()
    {
        var chunk = FirstChunkOf("lm_head.weight");
        var bytes = File.ReadAllBytes(ShardFile(chunk.Shard));
        bytes[chunk.Offset + 3] ^= 0x10;
        File.WriteAllBytes(ShardFile(chunk.Shard), bytes);

        var e = LoadFails(_path, CheckpointErrorKind.ChecksumMismatch);
        Assert.Equal("lm_head.weight", e.TensorName);
        Assert.Contains(CheckpointFormat.ShardFileName(chunk.Shard), e.Message);
        Assert.Contains("lm_head.weight", e.Message);
        Assert.Contains("restore it from a backup", e.Message);
    }

    [Fact]
    public void A_damaged_payload_is_caught_by_a_single_tensor_read_too()
    {
        var chunk = FirstChunkOf("model.norm.weight");
        var bytes = File.ReadAllBytes(ShardFile(chunk.Shard));
        bytes[chunk.Offset] ^= 1;
        File.WriteAllBytes(ShardFile(chunk.Shard), bytes);

        using var reader = CheckpointReader.Open(_path);
        var e = Assert.Throws<CheckpointException>(() => reader.ReadTensor("model.norm.weight", new float[8]));
        Assert.Equal(CheckpointErrorKind.ChecksumMismatch, e.Kind);
    }

    [Fact]
    public void A_truncated_shard_is_reported_as_truncated_on_open()
    {
        var shard = ShardFile(1);
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^10]);
        var e = LoadFails(_path, CheckpointErrorKind.Truncated);
        Assert.Contains(CheckpointFormat.ShardFileName(1), e.Message);
    }

    [Fact]
    public void A_missing_shard_file_is_not_found()
    {
        File.Delete(ShardFile(0));
        LoadFails(_path, CheckpointErrorKind.NotFound);
    }

    [Fact]
    public void A_folder_without_manifest_is_not_a_checkpoint()
    {
        LoadFails(_temp.Path, CheckpointErrorKind.NotFound);
    }

    [Fact]
    public void A_flipped_manifest_byte_is_a_checksum_mismatch()
    {
        var manifest = Path.Combine(_path, CheckpointFormat.ManifestFileName);
        var bytes = File.ReadAllBytes(manifest);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(manifest, bytes);
        LoadFails(_path, CheckpointErrorKind.ChecksumMismatch);
    }

    [Fact]
    public void An_unknown_format_version_is_unsupported()
    {
        var manifest = Path.Combine(_path, CheckpointFormat.ManifestFileName);
        var bytes = File.ReadAllBytes(manifest);
        // Envelope: 0x94 (array of 4), 0xb2 + 18 bytes of "OpenMoE.Checkpoint", then the version as a positive fixint.
        Assert.Equal(CheckpointFormat.Version, bytes[20]);
        bytes[20] = 9;
        File.WriteAllBytes(manifest, bytes);
        var e = LoadFails(_path, CheckpointErrorKind.UnsupportedVersion);
        Assert.Contains("version 9", e.Message);
    }

    [Fact]
    public void Garbage_instead_of_a_manifest_is_malformed()
    {
        File.WriteAllBytes(Path.Combine(_path, CheckpointFormat.ManifestFileName), "{\"not\": \"msgpack\"}"u8.ToArray());
        LoadFails(_path, CheckpointErrorKind.Malformed);
    }

    [Fact]
    public void A_shard_from_another_checkpoint_is_malformed()
    {
        var other = CheckpointTestData.Write(_temp.Sub("other"), _tensors, _data);
        File.Copy(Path.Combine(other, CheckpointFormat.ShardFileName(0)), ShardFile(0), overwrite: true);
        LoadFails(_path, CheckpointErrorKind.Malformed);
    }

    [Fact]
    public void Layout_checks_name_each_mismatch()
    {
        using var reader = CheckpointReader.Open(_path);
        var spec = Assert.Throws<CheckpointException>(() => reader.ValidateLayout(CheckpointTestData.Spec with { Hash = "other" }, null));
        Assert.Equal(CheckpointErrorKind.SpecMismatch, spec.Kind);
        Assert.Contains("Test-Tiny/4E", spec.Message);

        var missing = _tensors.Append(new TensorDescriptor("model.extra", TensorDType.F32, 2)).ToArray();
        var e = Assert.Throws<CheckpointException>(() => reader.ValidateLayout(CheckpointTestData.Spec, missing));
        Assert.Equal((CheckpointErrorKind.MissingTensor, "model.extra"), (e.Kind, e.TensorName));

        e = Assert.Throws<CheckpointException>(() => reader.ValidateLayout(CheckpointTestData.Spec, _tensors[1..]));
        Assert.Equal((CheckpointErrorKind.UnexpectedTensor, _tensors[0].Name), (e.Kind, e.TensorName));

        var reshaped = _tensors.Select(t => t.Name == "model.norm.weight" ? new TensorDescriptor(t.Name, t.DType, 9) : t).ToArray();
        e = Assert.Throws<CheckpointException>(() => reader.ValidateLayout(CheckpointTestData.Spec, reshaped));
        Assert.Equal((CheckpointErrorKind.ShapeMismatch, "model.norm.weight"), (e.Kind, e.TensorName));
        Assert.Contains("[8]", e.Message);
        Assert.Contains("[9]", e.Message);

        var retyped = _tensors.Select(t => t.Name == "model.norm.weight" ? new TensorDescriptor(t.Name, TensorDType.BF16, 8) : t).ToArray();
        e = Assert.Throws<CheckpointException>(() => reader.ValidateLayout(CheckpointTestData.Spec, retyped));
        Assert.Equal(CheckpointErrorKind.DTypeMismatch, e.Kind);

        reader.ValidateLayout(CheckpointTestData.Spec, _tensors);
    }

    [Fact]
    public void Reading_an_unknown_tensor_is_missing_tensor()
    {
        using var reader = CheckpointReader.Open(_path);
        var e = Assert.Throws<CheckpointException>(() => reader.ReadTensor("nope", new byte[4]));
        Assert.Equal(CheckpointErrorKind.MissingTensor, e.Kind);
    }
}
