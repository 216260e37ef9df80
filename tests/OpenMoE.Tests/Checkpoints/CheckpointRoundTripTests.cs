using System.Runtime.InteropServices;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

public class CheckpointRoundTripTests
{
    [Theory]
    [InlineData(300)]
    [InlineData(1 << 20)]
    public void Saved_tensors_load_back_identical_for_any_shard_limit(long maxShardBytes)
    {
        using var temp = new TempFolder();
        var tensors = CheckpointTestData.Descriptors();
        var data = CheckpointTestData.RandomData(tensors, seed: 1);
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), tensors, data, maxShardBytes);

        using var reader = CheckpointReader.Open(path);
        Assert.Equal(tensors, reader.Tensors);
        Assert.Equal(CheckpointTestData.Spec, reader.Spec);
        Assert.Equal(7, reader.Metadata.Step);
        Assert.Equal(CheckpointFormat.Version, reader.Manifest.FormatVersion);
        if (maxShardBytes == 300) Assert.True(reader.Manifest.Shards.Count > 3, "tiny limit must force many shards");
        Assert.All(reader.Manifest.Shards, s => Assert.True(s.Length <= maxShardBytes));
        CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
    }

    [Fact]
    public void A_tensor_larger_than_a_shard_spans_chunks_in_several_shards()
    {
        using var temp = new TempFolder();
        var big = new TensorDescriptor("big", TensorDType.F32, 1000);
        var data = CheckpointTestData.RandomData([big], seed: 2);
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), [big], data, maxShardBytes: 512);

        using var reader = CheckpointReader.Open(path);
        var chunks = reader.Manifest.Tensors.Single().Chunks;
        Assert.True(chunks.Count >= 8);
        Assert.Equal(chunks.Count, chunks.Select(c => c.Shard).Distinct().Count());
        CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
    }

    [Fact]
    public void Large_pieces_hashed_while_writing_round_trip_across_shards()
    {
        using var temp = new TempFolder();
        var big = new TensorDescriptor("big", TensorDType.BF16, 1536, 1024);
        var small = new TensorDescriptor("small", TensorDType.F32, 3);
        var data = CheckpointTestData.RandomData([small, big], seed: 9);
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), [small, big], data, maxShardBytes: 2 << 20);

        using var reader = CheckpointReader.Open(path);
        Assert.Equal(2, reader.Manifest.Tensors.Single(t => t.Name == "big").Chunks.Count);
        CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
    }

    [Fact]
    public void A_chunk_read_in_several_pipelined_pieces_loads_identically_and_detects_damage_in_its_last_piece()
    {
        using var temp = new TempFolder();
        var big = new TensorDescriptor("big", TensorDType.F32, 5_000_000);
        var data = CheckpointTestData.RandomData([big], seed: 10);
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), [big], data, maxShardBytes: 64 << 20);
        using (var reader = CheckpointReader.Open(path))
        {
            var loaded = new byte[big.ByteLength];
            reader.ReadTensor("big", loaded);
            Assert.True(data["big"].AsSpan().SequenceEqual(loaded));
        }

        var shard = Path.Combine(path, CheckpointFormat.ShardFileName(0));
        using (var file = new FileStream(shard, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = file.Length - 1;
            var last = file.ReadByte();
            file.Position = file.Length - 1;
            file.WriteByte((byte)(last ^ 1));
        }
        using var damaged = CheckpointReader.Open(path);
        var e = Assert.Throws<CheckpointException>(() => damaged.ReadTensor("big", new byte[big.ByteLength]));
        Assert.Equal(CheckpointErrorKind.ChecksumMismatch, e.Kind);
    }

    [Fact]
    public void Streaming_pieces_in_and_out_matches_whole_tensor_io()
    {
        using var temp = new TempFolder();
        var t = new TensorDescriptor("w", TensorDType.F32, 37, 11);
        var values = Enumerable.Range(0, 37 * 11).Select(i => MathF.Sin(i) * 1e3f).ToArray();
        using (var writer = CheckpointWriter.Create(temp.Sub("ckpt"), CheckpointTestData.Spec, new CheckpointWriteOptions { MaxShardBytes = 400, Durable = false }))
        {
            var stream = writer.BeginTensor(t);
            for (var i = 0; i < values.Length; i += 13) stream.Write(values.AsSpan(i, Math.Min(13, values.Length - i)));
            stream.Complete();
            writer.Commit(CheckpointMetadata.Now(0));
        }

        using var reader = CheckpointReader.Open(temp.Sub("ckpt"));
        var whole = new float[values.Length];
        reader.ReadTensor("w", whole);
        Assert.Equal(values, whole);

        var pieces = new byte[t.ByteLength];
        reader.ReadTensorInPieces("w", (offset, piece) => piece.CopyTo(pieces.AsSpan((int)offset)), pieceBytes: 29);
        Assert.True(MemoryMarshal.AsBytes(values.AsSpan()).SequenceEqual(pieces));
    }

    [Fact]
    public void Training_state_and_optimizer_tensors_round_trip_exactly()
    {
        using var temp = new TempFolder();
        var param = new TensorDescriptor("model.norm.weight", TensorDType.F32, 8);
        var m = new TensorDescriptor(OptimizerTensorNames.For("adamw", "m", param.Name), TensorDType.F32, 8);
        var v = new TensorDescriptor(OptimizerTensorNames.For("adamw", "v", param.Name), TensorDType.F32, 8);
        var data = CheckpointTestData.RandomData([param, m, v], seed: 3);
        var state = new TrainingState
        {
            Step = 12345, ScheduleStep = 12000, LearningRate = 1 / Math.Sqrt(12345),
            RngState = [0xDEADBEEFCAFEBABE, 1, ulong.MaxValue, 42], DataPosition = 987654321,
            DataCounters = new() { ["code"] = 17, ["web"] = long.MaxValue }, ObjectivePhase = "ul2",
            OptimizerName = "adamw", OptimizerScalars = new() { ["beta1_power"] = 0.9 * 0.9 },
        };
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), [param, m, v], data, step: 12345, state: state);

        using var reader = CheckpointReader.Open(path);
        var loaded = reader.TrainingState!;
        Assert.Equal(state.Step, loaded.Step);
        Assert.Equal(state.ScheduleStep, loaded.ScheduleStep);
        Assert.Equal(state.LearningRate, loaded.LearningRate);
        Assert.Equal(state.RngState, loaded.RngState);
        Assert.Equal(state.DataPosition, loaded.DataPosition);
        Assert.Equal(state.DataCounters, loaded.DataCounters);
        Assert.Equal(state.ObjectivePhase, loaded.ObjectivePhase);
        Assert.Equal(state.OptimizerName, loaded.OptimizerName);
        Assert.Equal(state.OptimizerScalars, loaded.OptimizerScalars);
        reader.ValidateLayout(CheckpointTestData.Spec, [param]);
        CheckpointTestData.AssertSameTensors(data, reader.LoadAll());
    }

    [Fact]
    public void Writer_rejects_wrong_byte_counts_and_duplicate_names()
    {
        using var temp = new TempFolder();
        var t = new TensorDescriptor("w", TensorDType.F32, 4);
        using var writer = CheckpointWriter.Create(temp.Sub("ckpt"), CheckpointTestData.Spec, new CheckpointWriteOptions { Durable = false });
        Assert.Throws<ArgumentException>(() => writer.WriteTensor(t, new byte[17]));
        Assert.Throws<InvalidOperationException>(() => writer.WriteTensor(new TensorDescriptor("x", TensorDType.F32, 4), new byte[12]));
    }

    [Fact]
    public void An_uncommitted_writer_leaves_nothing_behind()
    {
        using var temp = new TempFolder();
        using (var writer = CheckpointWriter.Create(temp.Sub("ckpt"), CheckpointTestData.Spec, new CheckpointWriteOptions { Durable = false }))
            writer.WriteTensor(new TensorDescriptor("w", TensorDType.F32, 4), new float[4]);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Overwrite_replaces_an_existing_checkpoint_and_is_refused_without_the_option()
    {
        using var temp = new TempFolder();
        var tensors = CheckpointTestData.Descriptors();
        var first = CheckpointTestData.RandomData(tensors, seed: 4);
        var second = CheckpointTestData.RandomData(tensors, seed: 5);
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), tensors, first);
        Assert.Throws<IOException>(() => CheckpointWriter.Create(path, CheckpointTestData.Spec));

        using (var writer = CheckpointWriter.Create(path, CheckpointTestData.Spec, new CheckpointWriteOptions { Overwrite = true, MaxShardBytes = 300, Durable = false }))
        {
            foreach (var t in tensors) writer.WriteTensor(t, second[t.Name]);
            writer.Commit(CheckpointMetadata.Now(8));
        }
        using var reader = CheckpointReader.Open(path);
        CheckpointTestData.AssertSameTensors(second, reader.LoadAll());
        Assert.Single(Directory.EnumerateFileSystemEntries(temp.Path));
    }
}
