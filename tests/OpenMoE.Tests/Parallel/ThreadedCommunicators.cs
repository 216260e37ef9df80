using System.Collections.Concurrent;
using OpenMoE.Runtime.Communication;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// N ranks in one process, one thread each, exchanging through shared slots between two barrier
/// phases: the fake communicator the in-process parallel tests run on. Collectives have MPI's
/// semantics (every rank calls the same ones in the same order; sums in rank order); a rank that
/// does not arrive within the timeout fails every rank instead of hanging the test run.
/// </summary>
internal sealed class ThreadedCommunicators
{
    private readonly Barrier _barrier;
    private readonly object?[] _slots;
    private readonly TimeSpan _timeout;
    /// <summary>Sub-groups made by Split, by (the split's sequence number, color): its members share one.</summary>
    private readonly ConcurrentDictionary<(int Split, int Color), ThreadedCommunicators> _splits = new();

    public ThreadedCommunicators(int size, TimeSpan? timeout = null)
    {
        _barrier = new Barrier(size);
        _slots = new object?[size];
        _timeout = timeout ?? TimeSpan.FromSeconds(60);
        Ranks = Enumerable.Range(0, size).Select(r => (ICommunicator)new ThreadRank(this, r)).ToArray();
    }

    public ICommunicator[] Ranks { get; }

    /// <summary>Runs <paramref name="body"/> on every rank, each on its own thread, and returns the results in rank order.</summary>
    public T[] Run<T>(Func<ICommunicator, T> body)
    {
        var tasks = Ranks.Select(rank => Task.Factory.StartNew(() => body(rank), TaskCreationOptions.LongRunning)).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException e)
        {
            throw new AggregateException("a rank failed", e.Flatten().InnerExceptions);
        }
        return tasks.Select(t => t.Result).ToArray();
    }

    private void Phase(int rank)
    {
        if (!_barrier.SignalAndWait(_timeout))
            throw new TimeoutException($"rank {rank}: the other ranks did not reach the collective within {_timeout.TotalSeconds} s");
    }

    /// <summary>Publishes this rank's contribution, lets <paramref name="read"/> see every rank's, then clears for the next collective.</summary>
    private void Collective(int rank, object contribution, Action<object?[]> read)
    {
        _slots[rank] = contribution;
        Phase(rank);
        read(_slots);
        Phase(rank);
    }

    private sealed class ThreadRank(ThreadedCommunicators group, int rank) : ICommunicator
    {
        private int _splits;

        public int Rank => rank;
        public int Size => group._slots.Length;
        public string Name => "threads";

        public void Barrier() => group.Collective(rank, 0, _ => { });

        public void AllReduceSum(Span<float> values)
        {
            var result = new float[values.Length];
            group.Collective(rank, values.ToArray(), slots =>
            {
                foreach (float[] other in slots.Cast<float[]>())
                    for (int i = 0; i < result.Length; i++) result[i] += other[i];
            });
            result.CopyTo(values);
        }

        public void AllReduceSum(Span<double> values)
        {
            var result = new double[values.Length];
            group.Collective(rank, values.ToArray(), slots =>
            {
                foreach (double[] other in slots.Cast<double[]>())
                    for (int i = 0; i < result.Length; i++) result[i] += other[i];
            });
            result.CopyTo(values);
        }

        public void AllGatherVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> counts, Span<T> receive) where T : unmanaged
        {
            Assert.Equal(counts[rank], send.Length);
            var gathered = new List<T>();
            group.Collective(rank, send.ToArray(), slots =>
            {
                foreach (T[] other in slots.Cast<T[]>()) gathered.AddRange(other);
            });
            Assert.Equal(counts.ToArray().Sum(), gathered.Count);
            gathered.ToArray().CopyTo(receive);
        }

        public void AllToAllVariable<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts) where T : unmanaged
        {
            var mine = (Data: send.ToArray(), Counts: sendCounts.ToArray());
            var received = new List<T>();
            var expected = receiveCounts.ToArray();
            group.Collective(rank, mine, slots =>
            {
                for (int source = 0; source < slots.Length; source++)
                {
                    var (data, counts) = ((T[], int[]))slots[source]!;
                    int offset = counts.Take(rank).Sum();
                    if (counts[rank] != expected[source])
                        throw new InvalidOperationException($"rank {rank} expects {expected[source]} elements from rank {source}, which sends {counts[rank]}");
                    received.AddRange(data.Skip(offset).Take(counts[rank]));
                }
            });
            received.ToArray().CopyTo(receive);
        }

        public ICommunicator Split(int color, int key)
        {
            int split = _splits++;
            int index = 0, members = 0;
            group.Collective(rank, (color, key), slots =>
            {
                var same = slots.Select((s, r) => (Entry: ((int Color, int Key))s!, Rank: r)).Where(x => x.Entry.Color == color)
                    .OrderBy(x => x.Entry.Key).ThenBy(x => x.Rank).Select(x => x.Rank).ToList();
                index = same.IndexOf(rank);
                members = same.Count;
            });
            return group._splits.GetOrAdd((split, color), _ => new ThreadedCommunicators(members, group._timeout)).Ranks[index];
        }

        public void Abort(int exitCode, string reason) => throw new InvalidOperationException($"rank {rank} aborted ({exitCode}): {reason}");

        public void Dispose()
        {
        }
    }
}
