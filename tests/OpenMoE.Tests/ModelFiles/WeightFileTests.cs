using OpenMoE.Cli;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.SafeTensors;
using OpenMoE.Tests.Kernels;

namespace OpenMoE.Tests.ModelFiles;

public sealed class WeightFileTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>, IDisposable
{
    private static readonly ModelSpecInfo Tiny = ModelSpecs.Find("OpenMoE-Tiny");
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-weights-").FullName;

    [Fact]
    public void Init_writes_a_checkpoint_that_loads_back_the_initialiser_values()
    {
        string path = Path.Combine(_root, "init");
        Assert.Equal(0, Program.Main(["init", "--spec", Tiny.Name, "--init-seed", "5", "--out", path]));
        using var file = WeightFile.Open(path, expectedSpec: null);
        Assert.Same(Tiny, file.Spec);
        foreach (var parameter in Tiny.Parameters)
            Assert.Equal(WeightInitializer.Create(Tiny.Config, parameter, 5), file.Read(parameter));
    }

    [Fact]
    public void Safetensors_export_gives_the_same_model_as_the_checkpoint()
    {
        string checkpoint = Path.Combine(_root, "ck");
        ModelCheckpoint.Save(checkpoint, Tiny, p => WeightInitializer.Create(Tiny.Config, p, 2), CheckpointMetadata.Now(7));
        string exported = Path.Combine(_root, "model.safetensors");
        SafeTensorsConverter.ToSafeTensors(checkpoint, exported);

        int[] tokens = [0, 5, 9, 200, 31, 77];
        float[] Logits(string path)
        {
            using var file = WeightFile.Open(path, Tiny);
            using var model = new MoeTransformer(fixture.Device, Tiny, DeviceWeights.Load(fixture.Device, Tiny, file.Read));
            return model.Forward(tokens, 1).Logits;
        }
        Assert.Equal(Logits(checkpoint), Logits(exported));
    }

    [Fact]
    public void Weights_of_another_spec_are_refused_before_loading()
    {
        string checkpoint = Path.Combine(_root, "tiny");
        ModelCheckpoint.Save(checkpoint, Tiny, p => WeightInitializer.Create(Tiny.Config, p, 1), CheckpointMetadata.Now(0));
        var error = Assert.Throws<CheckpointException>(() => WeightFile.Open(checkpoint, ModelSpecs.Find("Mixtral-Tiny")));
        Assert.Equal(CheckpointErrorKind.SpecMismatch, error.Kind);
        Assert.Contains("Use --spec OpenMoE-Tiny", error.Message);
    }

    [Fact]
    public void A_corrupted_checkpoint_is_a_clear_cli_error()
    {
        string checkpoint = Path.Combine(_root, "bad");
        ModelCheckpoint.Save(checkpoint, Tiny, p => WeightInitializer.Create(Tiny.Config, p, 1), CheckpointMetadata.Now(0));
        string shard = Directory.GetFiles(checkpoint, "shard-*").First();
        var bytes = File.ReadAllBytes(shard);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(shard, bytes);
        Assert.Throws<CheckpointException>(() => WeightFile.Open(checkpoint, null));
        Assert.Equal(2, Program.Main(["generate", "--weights", checkpoint, "--device", "cpu", "--prompt", "x"]));
    }

    [Fact]
    public void Streaming_a_tensor_split_across_shards_gives_the_same_values()
    {
        string checkpoint = Path.Combine(_root, "sharded");
        // 1000-byte shards split tensors at arbitrary byte offsets, also inside an element.
        ModelCheckpoint.Save(checkpoint, Tiny, p => WeightInitializer.Create(Tiny.Config, p, 4), CheckpointMetadata.Now(0),
            options: new CheckpointWriteOptions { MaxShardBytes = 1000 });
        using var file = WeightFile.Open(checkpoint, Tiny);
        foreach (var parameter in Tiny.Parameters.Take(6))
        {
            var streamed = new List<float>();
            file.Stream(parameter, chunk => streamed.AddRange(chunk.ToArray()));
            Assert.Equal(WeightInitializer.Create(Tiny.Config, parameter, 4), streamed);
        }
    }

    [Fact]
    public void Bf16_and_fp16_tensors_widen_exactly()
    {
        // 1.5 = 0x3FC0 in bf16 and 0x3E00 in fp16; -2 = 0xC000 in both.
        Assert.Equal(new[] { 1.5f, -2f }, TensorDecoding.ToFloats(TensorDType.BF16, [0xC0, 0x3F, 0x00, 0xC0]));
        Assert.Equal(new[] { 1.5f, -2f }, TensorDecoding.ToFloats(TensorDType.F16, [0x00, 0x3E, 0x00, 0xC0]));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
