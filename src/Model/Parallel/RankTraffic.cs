using OpenMoE.Runtime.Communication;

namespace OpenMoE.Model.Parallel;

/// <summary>What one rank of a parallel job did (in an evaluation, or in one training step).</summary>
/// <param name="Rank">Rank in the job.</param>
/// <param name="Tokens">Tokens of the sequences it held.</param>
/// <param name="RowsSent">Token rows (and their gradients or outputs) it sent to other ranks' experts or back.</param>
/// <param name="BytesSent">Bytes of those rows.</param>
public sealed record RankTraffic(int Rank, long Tokens, long RowsSent, long BytesSent)
{
    /// <summary>Every rank's figures, in rank order (a collective: every rank of <paramref name="communicator"/> calls it).</summary>
    public static List<RankTraffic> Gather(ICommunicator communicator, long tokens, long rowsSent, long bytesSent)
    {
        var all = new long[3 * communicator.Size];
        communicator.AllGatherVariable<long>([tokens, rowsSent, bytesSent], Enumerable.Repeat(3, communicator.Size).ToArray(), all);
        return Enumerable.Range(0, communicator.Size).Select(r => new RankTraffic(r, all[3 * r], all[3 * r + 1], all[3 * r + 2])).ToList();
    }
}
