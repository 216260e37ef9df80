using System.Buffers.Binary;
using System.Text;
using FsCheck.Xunit;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.SafeTensors;

namespace OpenMoE.Tests.Checkpoints;

public class SafeTensorsTests
{
    /// <summary>A safetensors file from raw parts, as another tool would write it.</summary>
    internal static byte[] Build(string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    /// <summary>A file in the Hugging Face style: unsorted keys, metadata last, no padding, all three dtypes.</summary>
    internal static (byte[] File, Dictionary<string, byte[]> Data) ForeignFile(int seed)
    {
        var random = new Random(seed);
        byte[] Bytes(int n) { var b = new byte[n]; random.NextBytes(b); return b; }
        var data = new Dictionary<string, byte[]>
        {
            ["model.layers.0.mlp.experts.wi_gate"] = Bytes(2 * 3 * 4 * 2),
            ["model.embed_tokens.weight"] = Bytes(5 * 3 * 4),
            ["model.norm.weight"] = Bytes(3 * 2),
        };
        var json = """{"model.layers.0.mlp.experts.wi_gate":{"dtype":"BF16","shape":[2,3,4],"data_offsets":[0,48]},"model.norm.weight":{"dtype":"F16","shape":[3],"data_offsets":[108,114]},"model.embed_tokens.weight":{"dtype":"F32","shape":[5,3],"data_offsets":[48,108]},"__metadata__":{"format":"pt"}}""";
        var all = data["model.layers.0.mlp.experts.wi_gate"].Concat(data["model.embed_tokens.weight"]).Concat(data["model.norm.weight"]).ToArray();
        return (Build(json, all), data);
    }

    private static CheckpointException OpenFails(string path, CheckpointErrorKind kind)
    {
        var e = Assert.Throws<CheckpointException>(() =>
        {
            using var set = SafeTensorsSet.Open(path);
            set.LoadAll();
        });
        Assert.Equal(kind, e.Kind);
        return e;
    }

    [Fact]
    public void A_foreign_file_round_trips_through_a_checkpoint_with_byte_identical_tensor_data()
    {
        using var temp = new TempFolder();
        var (file, data) = ForeignFile(seed: 1);
        var source = temp.Sub("source.safetensors");
        File.WriteAllBytes(source, file);

        var checkpoint = SafeTensorsConverter.ToCheckpoint(source, temp.Sub("ckpt"), CheckpointTestData.Spec,
            new CheckpointWriteOptions { MaxShardBytes = 128, Durable = false });
        using (var reader = CheckpointReader.Open(checkpoint))
        {
            Assert.True(reader.Manifest.Shards.Count > 1);
            CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
        }

        var back = temp.Sub("back.safetensors");
        SafeTensorsConverter.ToSafeTensors(checkpoint, back);
        using var exported = SafeTensorsSet.Open(back);
        CheckpointTestData.AssertSameTensors(data, exported.LoadAll());
        using var original = SafeTensorsSet.Open(source);
        Assert.Equal(original.Tensors, exported.Tensors);

        var originalData = file.AsSpan(file.Length - 114);
        var exportedBytes = File.ReadAllBytes(back);
        Assert.True(originalData.SequenceEqual(exportedBytes.AsSpan(exportedBytes.Length - 114)), "data sections differ");
        Assert.Equal(0, (exportedBytes.Length - 114) % 8);
        Assert.Equal(CheckpointTestData.Spec.Hash, exported.Metadata[SafeTensorsConverter.SpecHashKey]);
    }

    [Fact]
    public void Sharded_export_writes_an_index_and_reimports_without_a_spec_argument()
    {
        using var temp = new TempFolder();
        var tensors = CheckpointTestData.Descriptors();
        var data = CheckpointTestData.RandomData(tensors, seed: 2);
        var checkpoint = CheckpointTestData.Write(temp.Sub("ckpt"), tensors, data, step: 42);

        var files = SafeTensorsConverter.ToSafeTensors(checkpoint, temp.Sub("hf"), maxShardBytes: 600);
        Assert.Contains(files, f => f.EndsWith(SafeTensorsSet.IndexFileName));
        Assert.True(files.Count >= 3);
        Assert.Contains(files, f => f.EndsWith("model-00001-of-" + (files.Count - 1).ToString("D5") + ".safetensors"));

        using (var set = SafeTensorsSet.Open(temp.Sub("hf")))
            CheckpointTestData.AssertSameTensors(data, set.LoadAll());

        var again = SafeTensorsConverter.ToCheckpoint(temp.Sub("hf"), temp.Sub("again"), options: new CheckpointWriteOptions { Durable = false });
        using var reader = CheckpointReader.Open(again);
        Assert.Equal(CheckpointTestData.Spec, reader.Spec);
        Assert.Equal(42, reader.Metadata.Step);
        CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
    }

    [Fact]
    public void Optimizer_tensors_stay_out_of_an_export_unless_asked()
    {
        using var temp = new TempFolder();
        var w = new TensorDescriptor("w", TensorDType.F32, 2);
        var m = new TensorDescriptor(OptimizerTensorNames.For("adamw", "m", "w"), TensorDType.F32, 2);
        var checkpoint = CheckpointTestData.Write(temp.Sub("ckpt"), [w, m], CheckpointTestData.RandomData([w, m], 3));
        SafeTensorsConverter.ToSafeTensors(checkpoint, temp.Sub("a.safetensors"));
        SafeTensorsConverter.ToSafeTensors(checkpoint, temp.Sub("b.safetensors"), includeOptimizerState: true);
        using var a = SafeTensorsSet.Open(temp.Sub("a.safetensors"));
        using var b = SafeTensorsSet.Open(temp.Sub("b.safetensors"));
        Assert.Equal(["w"], a.Tensors.Select(t => t.Name));
        Assert.Equal(2, b.Tensors.Count);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, CheckpointErrorKind.Malformed)]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, CheckpointErrorKind.Truncated)]
    [InlineData("""{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", 8, CheckpointErrorKind.UnsupportedDType)]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, CheckpointErrorKind.Malformed)]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, CheckpointErrorKind.Malformed)]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, CheckpointErrorKind.Malformed)]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, CheckpointErrorKind.Malformed)]
    [InlineData("""{"a":{"dtype":"F32","shape":[2]""", 8, CheckpointErrorKind.Malformed)]
    [InlineData("""[1, 2]""", 0, CheckpointErrorKind.Malformed)]
    public void Invalid_headers_raise_the_typed_exception(string json, int dataBytes, CheckpointErrorKind kind)
    {
        using var temp = new TempFolder();
        var path = temp.Sub("bad.safetensors");
        File.WriteAllBytes(path, Build(json, new byte[dataBytes]));
        var e = OpenFails(path, kind);
        Assert.Contains("bad.safetensors", e.Message);
    }

    [Fact]
    public void A_header_length_beyond_the_file_is_truncated()
    {
        using var temp = new TempFolder();
        var path = temp.Sub("x.safetensors");
        var file = ForeignFile(4).File;
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue - 3);
        File.WriteAllBytes(path, file);
        OpenFails(path, CheckpointErrorKind.Truncated);
        File.WriteAllBytes(path, new byte[5]);
        OpenFails(path, CheckpointErrorKind.Truncated);
    }

    [Fact]
    public void An_index_naming_a_tensor_its_file_lacks_is_missing_tensor()
    {
        using var temp = new TempFolder();
        File.WriteAllBytes(temp.Sub("model-00001-of-00001.safetensors"), ForeignFile(5).File);
        File.WriteAllText(temp.Sub(SafeTensorsSet.IndexFileName), """
            {"metadata": {}, "weight_map": {"model.norm.weight": "model-00001-of-00001.safetensors",
             "model.embed_tokens.weight": "model-00001-of-00001.safetensors",
             "model.layers.0.mlp.experts.wi_gate": "model-00001-of-00001.safetensors",
             "lm_head.weight": "model-00001-of-00001.safetensors"}}
            """);
        var e = OpenFails(temp.Path, CheckpointErrorKind.MissingTensor);
        Assert.Equal("lm_head.weight", e.TensorName);

        File.WriteAllText(temp.Sub(SafeTensorsSet.IndexFileName), """{"weight_map": {"a": "../escape.safetensors"}}""");
        OpenFails(temp.Path, CheckpointErrorKind.Malformed);
    }

    [Property(MaxTest = 200)]
    public void A_randomly_damaged_safetensors_file_loads_or_throws_CheckpointException(int seed)
    {
        using var temp = new TempFolder();
        var file = ForeignFile(seed: 6).File;
        var path = temp.Sub("f.safetensors");
        File.WriteAllBytes(path, CheckpointFuzzTests.Mutate(file, new Random(seed)));

        var run = Task.Run(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var set = SafeTensorsSet.Open(path);
                // Without checksums a damaged name or payload can still load; only the failure type is checked.
                set.LoadAll();
                return ((Exception?)null, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            catch (Exception e)
            {
                return (e, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        });
        Assert.True(run.Wait(TimeSpan.FromSeconds(10)), $"seed {seed}: loading did not finish");
        var (error, allocated) = run.Result;
        Assert.True(allocated < 16 << 20, $"seed {seed}: allocated {allocated} bytes");
        Assert.True(error is null or CheckpointException, $"seed {seed}: {error?.GetType().Name}: {error?.Message}");
    }
}
