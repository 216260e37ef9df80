namespace OpenMoE.Model.Training;

/// <summary>
/// Runs one job per tensor index on dedicated threads, the caller included. The host optimizer
/// and gradient clipping use it instead of <see cref="Parallel.For(int, int, Action{int})"/>, which
/// allocates tasks and closures on every call; tensors are independent, so any schedule gives
/// bit-identical results. One job runs at a time (callers from several threads take turns).
/// </summary>
internal sealed class TensorParallel
{
    private readonly SemaphoreSlim[] _start;
    private readonly object _turn = new();
    private Action<int>? _job;
    private int _count, _next, _pending;
    private long _workerBytes;
    private Exception? _failure;

    private TensorParallel(int threads)
    {
        _start = new SemaphoreSlim[Math.Max(0, threads - 1)];
        for (int i = 0; i < _start.Length; i++)
        {
            var gate = _start[i] = new SemaphoreSlim(0);
            new Thread(() => WorkerLoop(gate)) { IsBackground = true, Name = $"openmoe-tensors-{i + 1}" }.Start();
        }
    }

    /// <summary>The process-wide pool: one thread per core (background threads, never stopped).</summary>
    public static TensorParallel Shared { get; } = new(Environment.ProcessorCount);

    /// <summary>
    /// Managed bytes allocated on the pool's own threads while running jobs, since it started (the caller's
    /// share is on the caller's thread): lets a test prove that a job allocates nothing wherever it runs.
    /// </summary>
    public long WorkerAllocatedBytes => Interlocked.Read(ref _workerBytes);

    /// <summary>Calls <paramref name="job"/>(i) for every i in [0, <paramref name="count"/>) and waits for all of them.</summary>
    public void For(int count, Action<int> job)
    {
        lock (_turn)
        {
            _job = job;
            _count = count;
            _failure = null;
            Volatile.Write(ref _next, 0);
            int helpers = Math.Min(_start.Length, count - 1);
            Volatile.Write(ref _pending, Math.Max(0, helpers));
            for (int i = 0; i < helpers; i++)
                _start[i].Release();
            RunJobs();
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0)
                spin.SpinOnce(sleep1Threshold: -1);
            _job = null;
            if (_failure is not null)
                throw new AggregateException("A tensor job failed.", _failure);
        }
    }

    private void RunJobs()
    {
        var job = _job!;
        for (int i = Interlocked.Increment(ref _next) - 1; i < _count; i = Interlocked.Increment(ref _next) - 1)
        {
            try
            {
                job(i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
        }
    }

    private void WorkerLoop(SemaphoreSlim gate)
    {
        while (true)
        {
            gate.Wait();
            long before = GC.GetAllocatedBytesForCurrentThread();
            RunJobs();
            Interlocked.Add(ref _workerBytes, GC.GetAllocatedBytesForCurrentThread() - before);
            Interlocked.Decrement(ref _pending);
        }
    }
}
