using OpenMoE.Kernels;
using OpenMoE.Runtime.Threading;
using OpenMoE.Tests.Training;

namespace OpenMoE.Tests.Kernels;

/// <summary>Counts the attention workers' allocations too, so it runs with the other allocation tests, alone.</summary>
[Collection(AllocationMeasurement.Name)]
public class CpuAttentionAllocationTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    [Fact]
    public void Attention_on_the_CPU_accelerator_allocates_nothing_once_warm()
    {
        var device = fixture.Device;
        var shape = new AttentionShape { Batch = 2, QueryTime = 16, PastLength = 0, CacheLength = 16, Heads = 4, KvHeads = 2, HeadDim = 8, Scale = 1 };
        var random = new Random(3);
        float[] Floats(int count) => Enumerable.Range(0, count).Select(_ => (float)random.NextDouble()).ToArray();
        using var q = device.Upload(Floats(2 * 16 * 4 * 8), "q");
        using var kv = device.Upload(Floats(2 * 16 * 2 * 8), "kv");
        using var o = device.Allocate<float>(2 * 16 * 4 * 8, "o");
        device.Ops.Attention(q.View, kv.View, kv.View, o.View, shape);

        // The calling thread runs the launcher and one share of the heads, the pool's workers the rest.
        long before = GC.GetAllocatedBytesForCurrentThread() + HostWorkerPool.WorkerAllocatedBytes;
        for (int i = 0; i < 10; i++)
            device.Ops.Attention(q.View, kv.View, kv.View, o.View, shape);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() + HostWorkerPool.WorkerAllocatedBytes - before);
    }
}
