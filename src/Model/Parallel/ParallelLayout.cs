using OpenMoE.Runtime.Communication;

namespace OpenMoE.Model.Parallel;

/// <summary>
/// P = E x D ranks: E-way expert parallelism inside each of D data-parallel replicas. World rank
/// <c>w = d*E + e</c> is expert-parallel rank e of replica d: ranks 0..E-1 form replica 0. Each replica
/// is one routing group (its ranks route their concatenated batch together); replicas see different
/// data and average their gradients: replicated tensors over all P ranks, each expert shard over the
/// D ranks that hold it.
/// </summary>
public sealed class ParallelLayout : IDisposable
{
    private readonly ICommunicator? _expertGroup;

    /// <summary>Splits <paramref name="world"/> (P = <paramref name="expertParallel"/> x <paramref name="dataParallel"/> ranks).</summary>
    public ParallelLayout(ICommunicator world, int expertParallel, int dataParallel)
    {
        if (expertParallel < 1 || dataParallel < 1)
            throw new ArgumentException($"Expert- and data-parallel sizes must be at least 1 (got {expertParallel} and {dataParallel}).");
        if ((long)expertParallel * dataParallel != world.Size)
            throw new ArgumentException(
                $"--expert-parallel {expertParallel} x --data-parallel {dataParallel} = {expertParallel * dataParallel} ranks, but the job has {world.Size}; start it with mpiexec -n {expertParallel * dataParallel}.");
        World = world;
        ExpertParallelSize = expertParallel;
        DataParallelSize = dataParallel;
        ExpertRank = world.Rank % expertParallel;
        Replica = world.Rank / expertParallel;
        // Every rank takes part in both splits (MPI requires it), even where a group has one member.
        _expertGroup = world.Split(color: Replica, key: ExpertRank);
        DataGroup = world.Split(color: ExpertRank, key: Replica);
        Experts = expertParallel > 1 ? new ExpertParallelism(_expertGroup) : null;
    }

    /// <summary>All ranks.</summary>
    public ICommunicator World { get; }

    /// <summary>E.</summary>
    public int ExpertParallelSize { get; }

    /// <summary>D.</summary>
    public int DataParallelSize { get; }

    /// <summary>This rank's expert-parallel rank e (0 .. E-1).</summary>
    public int ExpertRank { get; }

    /// <summary>This rank's data-parallel replica d (0 .. D-1).</summary>
    public int Replica { get; }

    /// <summary>Expert parallelism inside this rank's replica; null when E = 1 (every rank holds every expert).</summary>
    public ExpertParallelism? Experts { get; }

    /// <summary>The D ranks holding the same experts (one per replica): where expert gradients are averaged.</summary>
    public ICommunicator DataGroup { get; }

    /// <summary>The E ranks of this rank's replica (its routing group).</summary>
    public ICommunicator ExpertGroup => _expertGroup!;

    /// <summary>The experts this rank holds when every MoE layer has <paramref name="experts"/>.</summary>
    public ExpertShard Shard(int experts) => Experts?.Shard(experts) ?? ExpertShard.All(experts);

    /// <inheritdoc />
    public void Dispose()
    {
        _expertGroup?.Dispose();
        DataGroup.Dispose();
    }
}
