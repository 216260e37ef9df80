using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Cli;

namespace OpenMoE.Tests.ModelFiles;

/// <summary>
/// Checkpoint tensors used in place through a memory map on the CPU accelerator: the same model as a
/// copy, no device buffer for the weights, and every damaged or truncated file a typed error.
/// </summary>
public sealed class MemoryMappedWeightsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-mmap-").FullName;
    private static readonly int[] Tokens = [0, 5, 9, 200, 31, 77, 3, 8];

    private string Save(string spec, CheckpointWriteOptions? options = null)
    {
        var info = ModelSpecs.Find(spec);
        string path = Path.Combine(_root, spec + Guid.NewGuid().ToString("N")[..6]);
        ModelCheckpoint.Save(path, info, p => WeightInitializer.Create(info.Config, p, 4), CheckpointMetadata.Now(0), options: options);
        return path;
    }

    private static (float[] Logits, int InPlace, long WeightBuffers) Forward(string path, bool map)
    {
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        using var file = WeightFile.Open(path, expectedSpec: null);
        var mapped = map ? file.MapInPlace() : null;
        long before = device.LiveBytes;
        using var weights = DeviceWeights.Load(device, file.Spec, file.Stream, mapped?.Address, mapped?.Map);
        long weightBuffers = device.LiveBytes - before;
        using var model = new MoeTransformer(device, file.Spec, weights);
        return (model.Forward(Tokens, 2).Logits, weights.InPlaceTensors, weightBuffers);
    }

    [Theory]
    [InlineData("OpenMoE-Tiny")]
    [InlineData("Mixtral-Tiny")]
    [InlineData("DeepSeekMoE-Tiny")]
    public void A_mapped_checkpoint_is_the_same_model_as_a_copied_one_with_no_weight_buffers(string spec)
    {
        string path = Save(spec);
        var copied = Forward(path, map: false);
        var mapped = Forward(path, map: true);
        Assert.Equal(copied.Logits, mapped.Logits);
        Assert.Equal(ModelSpecs.Find(spec).Parameters.Length, mapped.InPlace);
        Assert.Equal(0, mapped.WeightBuffers);
        Assert.Equal(4 * ModelSpecs.Find(spec).TotalParams, copied.WeightBuffers);
    }

    [Fact]
    public void Every_chunk_payload_starts_on_the_alignment_boundary()
    {
        using var reader = CheckpointReader.Open(Save("OpenMoE-Tiny", new CheckpointWriteOptions { MaxShardBytes = 300_000 }));
        Assert.True(reader.Manifest.Shards.Count > 1);
        Assert.All(reader.Manifest.Tensors.SelectMany(t => t.Chunks), c => Assert.Equal(0, c.Offset % CheckpointFormat.PayloadAlignment));
    }

    [Fact]
    public void Tensors_split_across_shards_are_copied_and_the_model_is_unchanged()
    {
        string whole = Save("OpenMoE-Tiny");
        string split = Save("OpenMoE-Tiny", new CheckpointWriteOptions { MaxShardBytes = 300_000 });
        using (var reader = CheckpointReader.Open(split))
            Assert.Contains(reader.Manifest.Tensors, t => t.Chunks.Count > 1);
        var mapped = Forward(split, map: true);
        Assert.InRange(mapped.InPlace, 1, ModelSpecs.Find("OpenMoE-Tiny").Parameters.Length - 1);
        Assert.Equal(Forward(whole, map: false).Logits, mapped.Logits);
    }

    [Fact]
    public void A_shard_truncated_before_it_is_mapped_is_a_truncation_error()
    {
        string path = Save("OpenMoE-Tiny");
        using var reader = CheckpointReader.Open(path);
        string shard = Path.Combine(path, reader.Manifest.Shards[0].FileName);
        using (var stream = new FileStream(shard, FileMode.Open))
            stream.SetLength(stream.Length - 100);
        var error = Assert.Throws<CheckpointException>(() => CheckpointMemoryMap.Open(reader));
        Assert.Equal(CheckpointErrorKind.Truncated, error.Kind);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_shard_truncated_or_rewritten_while_mapped_is_a_typed_error_at_the_next_forward_not_a_crash(bool truncate)
    {
        string path = Save("OpenMoE-Tiny");
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        using var file = WeightFile.Open(path, expectedSpec: null);
        var mapped = file.MapInPlace();
        using var model = new MoeTransformer(device, file.Spec, DeviceWeights.Load(device, file.Spec, file.Stream, mapped?.Address, mapped?.Map));
        model.Forward(Tokens, 2);
        string shard = Path.Combine(path, file.Checkpoint!.Manifest.Shards[0].FileName);
        using (var stream = new FileStream(shard, FileMode.Open))
        {
            if (truncate)
                stream.SetLength(stream.Length / 2);
            else
                stream.WriteByte(0xc0);
        }
        // Rewritten within the file system's timestamp resolution would look unchanged: make the time differ for sure.
        File.SetLastWriteTimeUtc(shard, File.GetLastWriteTimeUtc(shard).AddSeconds(1));
        var error = Assert.Throws<CheckpointException>(() => model.Forward(Tokens, 2));
        Assert.Equal(truncate ? CheckpointErrorKind.Truncated : CheckpointErrorKind.Malformed, error.Kind);
        Assert.Contains(truncate ? "changed from" : "rewritten while its weights were memory-mapped", error.Message, StringComparison.Ordinal);
        Assert.Contains("--no-mmap", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_write_to_a_mapped_tensor_never_reaches_the_file()
    {
        string path = Save("OpenMoE-Tiny");
        using (var reader = CheckpointReader.Open(path))
        using (var map = CheckpointMemoryMap.Open(reader))
        {
            Assert.True(map.TryGet("model.norm.weight", sizeof(float), out var address, out _));
            unsafe { *(float*)address = 123f; }
        }
        using var verify = CheckpointReader.Open(path);
        verify.VerifyChecksums();
    }

    [Fact]
    public void Trust_checksums_skips_verification_and_without_it_a_flipped_byte_is_refused()
    {
        string path = Save("OpenMoE-Tiny");
        using (var reader = CheckpointReader.Open(path))
        {
            var chunk = reader.Manifest.Tensors.Single(t => t.Name == "model.norm.weight").Chunks[0];
            string shard = Path.Combine(path, reader.Manifest.Shards[chunk.Shard].FileName);
            using var stream = new FileStream(shard, FileMode.Open);
            stream.Position = chunk.Offset;
            int b = stream.ReadByte();
            stream.Position = chunk.Offset;
            stream.WriteByte((byte)(b ^ 0x40));
        }
        string ids = Path.Combine(_root, "ids.txt");
        File.WriteAllText(ids, "1 2 3 4 5 6\n");
        var refused = CliRunner.Invoke("eval", "--weights", path, "--token-ids", ids, "--device", "cpu");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("checksum", Assert.Single(refused.ErrorLines), StringComparison.Ordinal);
        var trusted = CliRunner.Invoke("eval", "--weights", path, "--token-ids", ids, "--device", "cpu", "--trust-checksums");
        Assert.True(trusted.ExitCode == 0, trusted.ToString());
        Assert.Contains("memory-mapped 49 of 49 tensors", trusted.Out, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
