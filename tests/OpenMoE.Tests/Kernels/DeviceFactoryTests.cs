using ILGPU;
using ILGPU.Runtime.Cuda;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Tests.Kernels;

public class DeviceFactoryTests
{
    [Fact]
    public void Cpu_device_is_small_and_shaped_to_the_cores()
    {
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        Assert.Equal(DeviceKind.Cpu, device.Kind);
        Assert.Equal(Environment.ProcessorCount, device.Accelerator.NumMultiprocessors);
        Assert.Equal(2, device.Accelerator.MaxNumThreadsPerGroup);
        Assert.StartsWith("cpu: ", device.Description);
        Assert.Equal(2, device.Ops.Shapes.GroupSize);
        Assert.Equal(1, device.Ops.Shapes.RowGroupSize);
    }

    [Fact]
    public void Cuda_request_gives_a_cuda_device_or_a_clear_error()
    {
        int gpus;
        using (var probe = Context.Create(b => b.Cuda()))
            gpus = probe.GetCudaDevices().Count;
        if (gpus == 0)
        {
            var error = Assert.Throws<DeviceUnavailableException>(() => DeviceFactory.Create(DeviceKind.Cuda));
            Assert.Contains("--device cpu", error.Message);
            using var auto = DeviceFactory.Create(DeviceKind.Auto);
            Assert.Equal(DeviceKind.Cpu, auto.Kind);
        }
        else
        {
            var error = Assert.Throws<DeviceUnavailableException>(() => DeviceFactory.Create(DeviceKind.Cuda, gpus));
            Assert.Contains($"CUDA device {gpus} does not exist", error.Message);
        }
    }

    [Theory]
    [InlineData("auto", DeviceKind.Auto)]
    [InlineData("CUDA", DeviceKind.Cuda)]
    [InlineData("cpu", DeviceKind.Cpu)]
    public void Device_names_parse(string text, DeviceKind expected) => Assert.Equal(expected, DeviceFactory.Parse(text));

    [Fact]
    public void Unknown_device_name_lists_the_choices()
        => Assert.Contains("auto, cuda or cpu", Assert.Throws<ArgumentException>(() => DeviceFactory.Parse("tpu")).Message);

    [Fact]
    public void Impossible_allocation_is_a_clear_out_of_memory_error()
    {
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        var error = Assert.Throws<DeviceOutOfMemoryException>(() => device.Allocate<float>(1L << 50, "a test tensor"));
        Assert.Contains("a test tensor", error.Message);
        Assert.Contains("MiB", error.Message);
    }

    [Fact]
    public void Kernels_load_once_per_accelerator()
    {
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        using var x = device.Allocate<float>(4, "x");
        device.Ops.ResidualAdd(x.View, x.View, 4);
        int loaded = device.Kernels.Count;
        device.Ops.ResidualAdd(x.View, x.View, 4);
        device.Synchronize();
        Assert.Equal(1, loaded);
        Assert.Equal(loaded, device.Kernels.Count);
    }
}
