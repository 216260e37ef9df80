using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using OpenMoE.Model.Routing.Device;

namespace OpenMoE.Tests.Routing;

/// <summary>An accelerator with the routing kernels loaded, for the device laws.</summary>
public interface IRoutingDevice : IDisposable
{
    Accelerator Accelerator { get; }
    DeviceRouter Router { get; }
}

/// <summary>
/// One small CPU accelerator (2-thread groups, a group per core, DESIGN §3) and its compiled
/// routing kernels, shared by all device routing tests.
/// </summary>
public sealed class CpuRoutingAccelerator : IRoutingDevice
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public DeviceRouter Router { get; }

    public CpuRoutingAccelerator()
    {
        Context = Context.Create(builder => builder.CPU(new CPUDevice(2, 1, Environment.ProcessorCount)).EnableAlgorithms());
        Accelerator = Context.CreateCPUAccelerator(0);
        Router = new DeviceRouter(Accelerator);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
