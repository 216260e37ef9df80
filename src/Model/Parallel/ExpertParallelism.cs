using OpenMoE.Runtime.Communication;

namespace OpenMoE.Model.Parallel;

/// <summary>
/// Expert parallelism over the ranks of <see cref="Communicator"/> (every rank is one expert-parallel
/// rank): rank r holds experts <c>[r*E/P, (r+1)*E/P)</c> of every MoE layer, routes its own tokens
/// together with every other rank's (one global routing group, docs/parallelism.md), and sends each
/// kept assignment to the rank of its expert.
/// </summary>
public sealed class ExpertParallelism
{
    /// <summary>Expert parallelism over all ranks of <paramref name="communicator"/>.</summary>
    public ExpertParallelism(ICommunicator communicator) => Communicator = communicator;

    /// <summary>The ranks that share the experts.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>P, the expert-parallel size.</summary>
    public int Size => Communicator.Size;

    /// <summary>This process's expert-parallel rank.</summary>
    public int Rank => Communicator.Rank;

    /// <summary>Bytes this rank sent to other ranks in exchanges so far (its own rows excluded).</summary>
    public long BytesSent { get; private set; }

    /// <summary>Token rows (kept assignments) this rank sent to other ranks so far.</summary>
    public long RowsSent { get; private set; }

    /// <summary>
    /// The experts of <paramref name="rank"/> when every MoE layer has <paramref name="experts"/>;
    /// E must be a multiple of P so every rank does the same work.
    /// </summary>
    public ExpertShard ShardOf(int rank, int experts)
    {
        if (experts % Size != 0)
            throw new ArgumentException($"{experts} experts do not split evenly over {Size} expert-parallel ranks; use an expert-parallel size that divides {experts}.");
        int count = experts / Size;
        return new ExpertShard(rank * count, count);
    }

    /// <summary>This rank's experts.</summary>
    public ExpertShard Shard(int experts) => ShardOf(Rank, experts);

    /// <summary>Adds one exchange's traffic to <see cref="BytesSent"/> and <see cref="RowsSent"/>.</summary>
    internal void CountSent(long rows, long bytes)
    {
        RowsSent += rows;
        BytesSent += bytes;
    }
}
