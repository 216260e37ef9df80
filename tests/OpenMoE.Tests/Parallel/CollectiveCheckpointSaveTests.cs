using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Communication;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// A checkpoint written by several ranks at once: the parts join into one ordinary checkpoint (a
/// tensor split over the ranks reads back whole, shard numbers no rank used are filled), and a part
/// that fails leaves no checkpoint behind while every rank hears which rank failed and why.
/// </summary>
public sealed class CollectiveCheckpointSaveTests : IDisposable
{
    private static readonly SpecIdentity Spec = new("Test", "hash");
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-collective-save-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // Small shards so the ranks write different numbers of them (rank 0 holds the replicated tensor too).
    private static CheckpointWriteOptions Options => new() { MaxShardBytes = 256, Durable = false };

    [Fact]
    public void Parts_of_three_ranks_read_back_as_one_checkpoint_with_the_split_tensor_whole()
    {
        var stack = Enumerable.Range(0, 3 * 40).Select(i => (float)i).ToArray();   // [3, 40]: one row per rank
        var replicated = Enumerable.Range(0, 100).Select(i => -(float)i).ToArray();
        string path = Path.Combine(_root, "step-1");
        var results = new ThreadedCommunicators(3).Run(world => CollectiveCheckpointSave.Save(world, 3, path, Spec, Options, writer =>
        {
            if (world.Rank == 0)
                writer.WriteTensor(new TensorDescriptor("replicated", TensorDType.F32, [100]), replicated);
            writer.WriteTensor(new TensorDescriptor("stack", TensorDType.F32, [1, 40]), stack.AsSpan(40 * world.Rank, 40));
        }, CheckpointMetadata.Now(1), null));

        Assert.All(results, r => Assert.Equal(Path.GetFullPath(path), r));
        using var reader = CheckpointReader.Open(path);
        reader.VerifyChecksums();
        Assert.Equal([3L, 40L], reader.GetDescriptor("stack").Shape);
        var read = new float[stack.Length];
        reader.ReadTensor("stack", read);
        Assert.Equal(stack, read);
        var readReplicated = new float[100];
        reader.ReadTensor("replicated", readReplicated);
        Assert.Equal(replicated, readReplicated);
        // Rank 0 needed more shards than the others: the numbers between were filled with empty shards.
        Assert.Contains(reader.Manifest.Shards, s => !reader.Manifest.Tensors.SelectMany(t => t.Chunks).Any(c => reader.Manifest.Shards[c.Shard] == s));
        Assert.Empty(Directory.GetDirectories(_root, ".*"));
    }

    [Fact]
    public void A_failed_part_leaves_no_checkpoint_and_the_other_ranks_name_the_rank_and_cause()
    {
        string path = Path.Combine(_root, "step-2");
        var errors = TwoRankSave(path, 2, (world, writer) =>
        {
            writer.WriteTensor(new TensorDescriptor("stack", TensorDType.F32, [1, 4]), new float[4]);
            if (world.Rank == 1)
                throw new IOException("No space left on device");
        }).Select(e => Assert.IsType<IOException>(e).Message).ToArray();
        Assert.Equal("rank 1 of 2 could not write its part of the checkpoint: No space left on device", errors[0]);
        Assert.Equal("No space left on device", errors[1]);   // the failing rank keeps its own exception
        Assert.False(Directory.Exists(path));
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Fact]
    public void Parts_whose_split_tensor_disagrees_beyond_the_leading_dimension_are_not_committed()
    {
        string path = Path.Combine(_root, "step-3");
        var errors = TwoRankSave(path, 3, (world, writer) =>
            writer.WriteTensor(new TensorDescriptor("stack", TensorDType.F32, [1, 4 + world.Rank]), new float[4 + world.Rank]))
            .Select(e => Assert.IsType<IOException>(e).Message).ToArray();
        Assert.All(errors, e => Assert.Contains("only the leading dimension may be split", e));
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Fact]
    public void Any_failure_of_a_part_leaves_no_folder_the_failing_rank_keeps_its_exception_and_the_others_hear_why()
    {
        string path = Path.Combine(_root, "step-4");
        var outcomes = TwoRankSave(path, 4, (world, _) =>
        {
            if (world.Rank == 1)
                throw new InvalidOperationException("the device stream failed");
        }).Select(e => $"{e!.GetType().Name}: {e.Message}").ToArray();
        Assert.Equal("IOException: rank 1 of 2 could not write its part of the checkpoint: the device stream failed", outcomes[0]);
        Assert.Equal("InvalidOperationException: the device stream failed", outcomes[1]);
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Fact]
    public void In_one_process_a_failed_save_leaves_no_folder_and_its_error_names_no_rank()
    {
        using var single = new SingleProcessCommunicator();
        var error = Assert.Throws<InvalidOperationException>(() => CollectiveCheckpointSave.Save(single, 1, Path.Combine(_root, "step-5"), Spec, Options,
            _ => throw new InvalidOperationException("no more device memory"), CheckpointMetadata.Now(5), null));
        Assert.Equal("no more device memory", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_root));
        var full = Assert.Throws<IOException>(() => CollectiveCheckpointSave.Save(single, 1, Path.Combine(_root, "step-6"), Spec, Options,
            _ => throw new IOException("Not enough free space"), CheckpointMetadata.Now(6), null));
        Assert.Equal("Not enough free space", full.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    /// <summary>Two threaded ranks save step <paramref name="step"/> with <paramref name="write"/>; each rank's exception, or null when it saved.</summary>
    private static Exception?[] TwoRankSave(string path, int step, Action<ICommunicator, CheckpointWriter> write) =>
        new ThreadedCommunicators(2).Run(world =>
        {
            try
            {
                CollectiveCheckpointSave.Save(world, 2, path, Spec, Options, writer => write(world, writer), CheckpointMetadata.Now(step), null);
                return (Exception?)null;
            }
            catch (Exception ex)
            {
                return ex;
            }
        });
}
