using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "openmoe-ckpt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Small tensors of every dtype, with random contents, and helpers to write them.</summary>
internal static class CheckpointTestData
{
    public static readonly SpecIdentity Spec = new("Test-Tiny/4E", "sha256:0123abcd");

    public static TensorDescriptor[] Descriptors() =>
    [
        new("model.embed_tokens.weight", TensorDType.F32, 16, 8),
        new("model.norm.weight", TensorDType.F32, 8),
        new("model.layers.0.mlp.experts.wi_gate", TensorDType.BF16, 4, 8, 6),
        new("model.layers.0.mlp.gate_weight", TensorDType.F16, 4, 8),
        new("scalar", TensorDType.F32, Array.Empty<int>()),
        new("empty", TensorDType.F32, 0, 8),
        new("lm_head.weight", TensorDType.F32, 16, 8),
    ];

    public static Dictionary<string, byte[]> RandomData(IEnumerable<TensorDescriptor> tensors, int seed)
    {
        var random = new Random(seed);
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            var bytes = new byte[t.ByteLength];
            random.NextBytes(bytes);
            data[t.Name] = bytes;
        }
        return data;
    }

    public static string Write(string path, IReadOnlyList<TensorDescriptor> tensors, IReadOnlyDictionary<string, byte[]> data,
        long maxShardBytes = 300, long step = 7, TrainingState? state = null, SpecIdentity? spec = null)
    {
        using var writer = CheckpointWriter.Create(path, spec ?? Spec, new CheckpointWriteOptions { MaxShardBytes = maxShardBytes, Durable = false });
        foreach (var t in tensors) writer.WriteTensor(t, data[t.Name]);
        return writer.Commit(CheckpointMetadata.Now(step), state);
    }

    public static void AssertSameTensors(IReadOnlyDictionary<string, byte[]> expected, IReadOnlyDictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, bytes) in expected) Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"tensor {name} differs");
    }
}
