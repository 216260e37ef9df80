using ILGPU.Runtime;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Tests.Routing;

/// <summary>A device with its router, for the device laws.</summary>
public interface IRoutingDevice : IDisposable
{
    Accelerator Accelerator { get; }
    DeviceRouter Router { get; }
}

/// <summary>A device of one kind and its router, shared by all device routing tests of a class.</summary>
public abstract class RoutingDevice : IRoutingDevice
{
    private readonly ComputeDevice _device;

    protected RoutingDevice(DeviceKind kind)
    {
        _device = DeviceFactory.Create(kind);
        Router = new DeviceRouter(_device);
    }

    public Accelerator Accelerator => _device.Accelerator;
    public DeviceRouter Router { get; }

    public void Dispose() => _device.Dispose();
}

/// <summary>The small CPU device every command uses (a group per core, DESIGN §3).</summary>
public sealed class CpuRoutingDevice() : RoutingDevice(DeviceKind.Cpu);

/// <summary>The first CUDA GPU.</summary>
public sealed class CudaRoutingDevice() : RoutingDevice(DeviceKind.Cuda);
