namespace OpenMoE.Runtime.Threading;

/// <summary>
/// A parallel for-loop on the process's <see cref="HostWorkerPool.Shared"/>, the caller included:
/// each thread takes the next free index. The host optimizer and gradient clipping run one index
/// per tensor with it instead of <see cref="Parallel.For(int, int, Action{int})"/>, which allocates
/// tasks and closures on every call; tensors are independent, so any schedule gives bit-identical
/// results. One loop runs at a time (callers from several threads take turns).
/// </summary>
public sealed class HostParallelFor
{
    private readonly HostWorkerPool _pool = HostWorkerPool.Shared;
    private readonly object _turn = new();
    private readonly Action<int> _runShare;
    private Action<int>? _job;
    private int _count, _next;

    private HostParallelFor() => _runShare = RunShare;

    /// <summary>The process-wide loop over the shared pool.</summary>
    public static HostParallelFor Shared { get; } = new();

    /// <summary>Calls <paramref name="job"/>(i) for every i in [0, <paramref name="count"/>) and waits for all of them.</summary>
    public void For(int count, Action<int> job)
    {
        lock (_turn)
        {
            _job = job;
            _count = count;
            Volatile.Write(ref _next, 0);
            try
            {
                _pool.Run(_runShare, Math.Min(_pool.Threads, count));
            }
            finally
            {
                _job = null;
            }
        }
    }

    private void RunShare(int part)
    {
        var job = _job!;
        for (int i = Interlocked.Increment(ref _next) - 1; i < _count; i = Interlocked.Increment(ref _next) - 1)
            job(i);
    }
}
