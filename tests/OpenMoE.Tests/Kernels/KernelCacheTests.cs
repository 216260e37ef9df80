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
}
