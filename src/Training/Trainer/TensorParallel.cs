using OpenMoE.Runtime.Threading;

namespace OpenMoE.Training;

/// <summary>
/// Runs one job per tensor index on the dedicated threads of a <see cref="HostWorkerPool"/>, the
/// caller included, each thread taking the next free index. The host optimizer and gradient
/// clipping use it instead of <see cref="Parallel.For(int, int, Action{int})"/>, which allocates
/// tasks and closures on every call; tensors are independent, so any schedule gives bit-identical
/// results. One job runs at a time (callers from several threads take turns).
/// </summary>
internal sealed class TensorParallel
{
    private readonly HostWorkerPool _pool = new(Environment.ProcessorCount, "tensors");
    private readonly object _turn = new();
    private readonly Action<int> _runShare;
    private Action<int>? _job;
    private int _count, _next;

    private TensorParallel() => _runShare = RunShare;

    /// <summary>The process-wide pool: one thread per core (background threads, never stopped).</summary>
    public static TensorParallel Shared { get; } = new();

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
