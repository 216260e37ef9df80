using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace OpenMoE.Tests.Training;

/// <summary>
/// Accounts for what ILGPU 1.5.3's CPU accelerator allocates per kernel launch on the launching
/// thread, so a test can subtract it exactly and see our own allocations. Every launch creates one
/// task object (a type ILGPU generates per kernel, holding the arguments); the ledger learns each
/// launch's task from the accelerator's end-of-launch barrier, whose post-phase action runs once per
/// launch while the task is still current. Reaches two private fields of <see cref="CPUAccelerator"/>
/// (pinned ILGPU version): if ILGPU renames them, this fails loudly instead of counting wrong.
/// Test-only; owns the accelerator's barrier until disposed (use a device of its own).
/// </summary>
internal sealed class IlgpuLaunchLedger : IDisposable
{
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "finishedEventPerMultiprocessor")]
    private static extern ref Barrier LaunchBarrier(CPUAccelerator accelerator);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "currentTask")]
    private static extern ref CPUAcceleratorTask CurrentTask(CPUAccelerator accelerator);

    private readonly CPUAccelerator _accelerator;
    private readonly Barrier _original;
    // Launches per kernel (keyed by the kernel's execution handler, which every task of it carries).
    private readonly Dictionary<object, (Type Task, long Launches)> _launches = new(256, ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Type, long> _taskSizes = [];
    private bool _recording;

    public IlgpuLaunchLedger(Accelerator accelerator)
    {
        _accelerator = (CPUAccelerator)accelerator;
        _original = LaunchBarrier(_accelerator);
        var barrier = new Barrier(_original.ParticipantCount, _ => Record());
        WarmUp(barrier);
        LaunchBarrier(_accelerator) = barrier;
        _recording = true;
    }

    /// <summary>
    /// A barrier's two events (odd and even phases) each create a 24-byte lock object the first
    /// time a thread blocks on them; block once per phase parity here, so that this one-time cost
    /// cannot land in a measured step on the launching thread.
    /// </summary>
    private static void WarmUp(Barrier barrier)
    {
        for (int phase = 0; phase < 2; phase++)
        {
            var late = Enumerable.Range(1, barrier.ParticipantCount - 1)
                .Select(_ => new Thread(() => { Thread.Sleep(30); barrier.SignalAndWait(); }))
                .ToArray();
            foreach (var thread in late) thread.Start();
            barrier.SignalAndWait();
            foreach (var thread in late) thread.Join();
        }
    }

    /// <summary>Launches since the last <see cref="Reset"/>.</summary>
    public long Launches
    {
        get
        {
            long total = 0;
            foreach (var (_, entry) in _launches) total += entry.Launches;
            return total;
        }
    }

    /// <summary>Bytes of the task objects ILGPU allocated for those launches (sizes measured here, outside any measured span).</summary>
    public long TaskBytes
    {
        get
        {
            long total = 0;
            foreach (var (_, entry) in _launches) total += entry.Launches * SizeOf(entry.Task);
            return total;
        }
    }

    /// <summary>Forgets the counts (kernels already seen keep their entries, so recording stays allocation-free).</summary>
    public void Reset()
    {
        foreach (var key in _launches.Keys)
            CollectionsMarshal.GetValueRefOrNullRef(_launches, key).Launches = 0;
    }

    private void Record()
    {
        if (!_recording)
            return;
        var task = CurrentTask(_accelerator);
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_launches, task.KernelExecutionDelegate, out _);
        entry.Task = task.GetType();
        entry.Launches++;
    }

    private long SizeOf(Type task)
    {
        if (_taskSizes.TryGetValue(task, out long size))
            return size;
        RuntimeHelpers.GetUninitializedObject(task); // the first call also fills runtime caches
        long before = GC.GetAllocatedBytesForCurrentThread();
        RuntimeHelpers.GetUninitializedObject(task);
        return _taskSizes[task] = GC.GetAllocatedBytesForCurrentThread() - before;
    }

    public void Dispose()
    {
        var ours = LaunchBarrier(_accelerator);
        LaunchBarrier(_accelerator) = _original;
        ours.Dispose();
    }
}
