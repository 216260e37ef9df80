using ILGPU;
using OpenMoE.Kernels;

namespace OpenMoE.Tests.Kernels;

public class KernelCacheTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    [Fact]
    public void Looking_up_a_loaded_kernel_allocates_nothing()
    {
        var cache = fixture.Device.Kernels;
        var first = cache.Get<ArrayView<float>, ArrayView<float>, int, int>(ResidualAdd.Forward);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            Assert.Same(first, cache.Get<ArrayView<float>, ArrayView<float>, int, int>(ResidualAdd.Forward));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Every_launch_is_counted_once()
    {
        var device = fixture.Device;
        using var x = device.Allocate<float>(64, "x");
        using var w = device.Allocate<float>(8, "w");
        long before = device.Kernels.Launches;
        device.Ops.RmsNorm(x.View, w.View, x.View, 8, 8, 1e-6f);  // one kernel
        device.Backward.Rope(x.View, new RopeShape { Batch = 1, Time = 2, Heads = 2, HeadDim = 16, Theta = 10000f }); // one kernel
        device.Synchronize();
        Assert.Equal(2, device.Kernels.Launches - before);
    }
}
