namespace OpenMoE.Runtime.Threading;

/// <summary>
/// A few dedicated threads that run one job index each, with the caller running index 0.
/// Dedicated threads (not the .NET pool, not Parallel.For) keep a host-side op (SIMD GEMM,
/// CPU attention) free of allocations and of queueing behind unrelated work; workers block on
/// a semaphore between calls. Calls from several threads take turns (the job lives in fields).
/// The process has one such pool, <see cref="Shared"/>, with a thread per core: the SIMD GEMM and CPU
/// attention both run on it, so they never compete with each other's threads for the cores. A job that itself calls <see cref="Run"/> of a pool runs that
/// inner job on its own thread, in order (this covers the pool only: a job must not call back into
/// the wrapper that started it, whose per-call state lives in fields).
/// </summary>
public sealed class HostWorkerPool : IDisposable
{
    private static long workerAllocatedBytes;
    [ThreadStatic] private static bool insideJob;
    private readonly object turn = new();
    private readonly string name;
    private readonly Thread[] workers;
    private readonly SemaphoreSlim[] start;
    private Action<int>? job;
    private int pending;
    private volatile bool disposed;
    private Exception? failure;

    /// <summary>Starts <paramref name="threads"/> - 1 background threads named <c>openmoe-{name}-{i}</c>.</summary>
    public HostWorkerPool(int threads, string name)
    {
        this.name = name;
        Threads = Math.Max(1, threads);
        workers = new Thread[Threads - 1];
        start = new SemaphoreSlim[Threads - 1];
        for (int i = 0; i < workers.Length; i++)
        {
            start[i] = new SemaphoreSlim(0);
            int index = i + 1;
            workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"openmoe-{name}-{index}" };
            workers[i].Start();
        }
    }

    /// <summary>The process-wide pool: one thread per core, the caller included (background threads, never stopped).</summary>
    public static HostWorkerPool Shared { get; } = new(Environment.ProcessorCount, "host");

    /// <summary>Threads a job can use, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Managed bytes allocated by jobs on the worker threads of every pool in the process since it
    /// started (the caller's share is on the caller's thread): with the caller's own count, a test
    /// sees every allocation of a parallel host op wherever it ran.
    /// </summary>
    public static long WorkerAllocatedBytes => Interlocked.Read(ref workerAllocatedBytes);

    /// <summary>Runs job(0..parts-1) in parallel (parts &lt;= Threads) and waits for all of them.</summary>
    public void Run(Action<int> work, int parts)
    {
        if (insideJob)
        {
            // Nested (a job of this or another pool asking for threads): the workers are busy with
            // the outer job, so the inner one runs here, part by part.
            for (int i = 0; i < Math.Clamp(parts, 1, Threads); i++)
                work(i);
            return;
        }
        lock (turn)
            RunAlone(work, parts);
    }

    private void RunAlone(Action<int> work, int parts)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        parts = Math.Clamp(parts, 1, Threads);
        job = work;
        failure = null;
        Volatile.Write(ref pending, parts - 1);
        for (int i = 0; i < parts - 1; i++)
            start[i].Release();
        try
        {
            insideJob = true;
            work(0);
        }
        finally
        {
            insideJob = false;
            var spin = new SpinWait();
            while (Volatile.Read(ref pending) != 0)
                spin.SpinOnce(sleep1Threshold: -1);
            job = null;
        }
        if (failure is not null)
            throw new AggregateException($"An openmoe-{name} worker thread failed.", failure);
    }

    private void WorkerLoop(int index)
    {
        var gate = start[index - 1];
        while (true)
        {
            gate.Wait();
            if (disposed)
                return;
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                insideJob = true;
                job!(index);
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                insideJob = false;
                Interlocked.Add(ref workerAllocatedBytes, GC.GetAllocatedBytesForCurrentThread() - before);
                Interlocked.Decrement(ref pending);
            }
        }
    }

    /// <summary>Stops and joins the worker threads (never those of <see cref="Shared"/>, which the whole process uses).</summary>
    public void Dispose()
    {
        if (disposed || ReferenceEquals(this, Shared))
            return;
        disposed = true;
        foreach (var gate in start)
            gate.Release();
        foreach (var worker in workers)
            worker.Join();
        foreach (var gate in start)
            gate.Dispose();
    }
}
