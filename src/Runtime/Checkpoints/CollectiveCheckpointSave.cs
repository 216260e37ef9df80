using System.Runtime.ExceptionServices;
using System.Text;
using OpenMoE.Runtime.Communication;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// One checkpoint saved by every rank of a job together (<see cref="CheckpointParts"/>): rank 0 makes
/// the shared folder, each writing rank writes its part, rank 0 commits the manifest only when every
/// part is complete, and every rank returns the same outcome: the folder, or the same
/// <see cref="IOException"/> naming the rank that failed (no rank is left waiting, none goes on alone).
/// </summary>
public static class CollectiveCheckpointSave
{
    private const byte Written = 1, Failed = 0, NothingWritten = 2;

    /// <summary>
    /// Saves the checkpoint at <paramref name="targetPath"/>. Every rank of <paramref name="world"/> calls
    /// this; ranks 0 .. <paramref name="writers"/>-1 each write their part (part r = rank r, in that
    /// order in the checkpoint) with <paramref name="write"/>, the other ranks only take part in the
    /// agreement (data-parallel replicas, whose tensors equal replica 0's).
    /// </summary>
    public static string Save(ICommunicator world, int writers, string targetPath, SpecIdentity spec, CheckpointWriteOptions options,
        Action<CheckpointWriter> write, CheckpointMetadata metadata, TrainingState? trainingState)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(writers, world.Size);
        // Every failure below is caught and told to every rank before anyone throws: a rank that threw
        // alone would leave the others waiting in the next collective, and the shared folder behind.
        Exception? mine = null;
        string? opened = null;
        if (world.Rank == 0)
        {
            try
            {
                var (folder, id) = CheckpointParts.CreateFolder(targetPath, options);
                opened = $"ok\n{folder}\n{id}";
            }
            catch (Exception ex)
            {
                mine = ex;
                opened = $"error\n{ex.Message}";
            }
        }
        var fields = world.Broadcast(opened).Split('\n');
        if (fields[0] != "ok")
            throw Outcome(mine, fields[1]);
        string shared = fields[1], checkpointId = fields[2];

        byte[] part = [NothingWritten];
        if (world.Rank < writers)
        {
            try
            {
                using var writer = CheckpointWriter.CreatePart(shared, checkpointId, spec, world.Rank, writers, options);
                write(writer);
                part = [Written, .. writer.CompletePart().Encode()];
            }
            catch (Exception ex)
            {
                mine = ex;
                part = [Failed, .. Encoding.UTF8.GetBytes(ex.Message)];
            }
        }
        var all = world.AllGatherBytes(part);

        string? outcome = null;
        if (world.Rank == 0)
            outcome = Commit(shared, targetPath, spec, checkpointId, all, metadata, trainingState, options);
        string result = world.Broadcast(outcome);
        return result.StartsWith("ok\n", StringComparison.Ordinal) ? result[3..] : throw Outcome(mine, result);
    }

    // The rank whose own step failed rethrows its exception (its type and stack); the others learn why as an IOException.
    private static Exception Outcome(Exception? mine, string message)
    {
        if (mine is not null)
            ExceptionDispatchInfo.Capture(mine).Throw();
        return new IOException(message);
    }

    // Rank 0: "ok\n" + the folder, or the reason nothing was committed (the shared folder is then gone).
    private static string Commit(string shared, string targetPath, SpecIdentity spec, string checkpointId, byte[][] all,
        CheckpointMetadata metadata, TrainingState? trainingState, CheckpointWriteOptions options)
    {
        for (int rank = 0; rank < all.Length; rank++)
        {
            if (all[rank][0] == Failed)
            {
                CheckpointParts.Abandon(shared);
                string cause = Encoding.UTF8.GetString(all[rank].AsSpan(1));
                return all.Length == 1 ? cause : $"rank {rank} of {all.Length} could not write its part of the checkpoint: {cause}";
            }
        }
        try
        {
            var parts = all.Where(b => b[0] == Written).Select(b => CheckpointPart.Decode(b.AsMemory(1))).ToList();
            return "ok\n" + CheckpointParts.Commit(shared, targetPath, spec, checkpointId, parts, metadata, trainingState, options);
        }
        catch (Exception ex)
        {
            // Whatever stops the commit (also parts that do not join), every rank must hear it, or the others would wait for ever.
            CheckpointParts.Abandon(shared);
            return ex.Message;
        }
    }
}
