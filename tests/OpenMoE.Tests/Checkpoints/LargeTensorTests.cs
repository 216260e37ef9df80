using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

/// <summary>
/// A tensor larger than 2 GiB (one float span's byte view cannot hold it) is written from a float
/// span and read back into one, across chunks and shards. 2 GiB + 64 bytes: the smallest size past
/// the limit, so the test costs one such array and 2 GiB of temporary disk.
/// </summary>
public class LargeTensorTests
{
    [Fact]
    public void A_tensor_over_2_GiB_is_written_and_read_whole()
    {
        const long elements = (1L << 29) + 16;
        using var temp = new TempFolder();
        var values = new float[elements];
        for (long i = 0; i < elements; i += 4099)
            values[i] = i;
        values[^1] = -7f;
        var descriptor = new TensorDescriptor("big", TensorDType.F32, [elements]);
        Assert.True(descriptor.ByteLength > int.MaxValue);

        using (var writer = CheckpointWriter.Create(temp.Sub("ckpt"), CheckpointTestData.Spec, new CheckpointWriteOptions { Durable = false }))
        {
            writer.WriteTensor(descriptor, values);
            writer.Commit(CheckpointMetadata.Now(0));
        }

        Array.Clear(values);
        using var reader = CheckpointReader.Open(temp.Sub("ckpt"));
        Assert.Equal(descriptor.ByteLength, reader.GetDescriptor("big").ByteLength);
        Assert.True(reader.Manifest.Shards.Count > 1);
        reader.ReadTensor("big", values);
        for (long i = 0; i < elements - 1; i += 4099)
            Assert.True(values[i] == i, $"element {i}");
        Assert.Equal(-7f, values[^1]);
    }
}
