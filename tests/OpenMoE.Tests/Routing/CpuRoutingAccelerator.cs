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

/// <summary>
/// The small CPU device every command uses (a group per core, DESIGN §3) and its router, shared
/// by all device routing tests.
/// </summary>
public sealed class CpuRoutingAccelerator : IRoutingDevice
{
    private readonly ComputeDevice _device = DeviceFactory.Create(DeviceKind.Cpu);

    public CpuRoutingAccelerator() => Router = new DeviceRouter(_device);

    public Accelerator Accelerator => _device.Accelerator;
    public DeviceRouter Router { get; }

    public void Dispose() => _device.Dispose();
}
