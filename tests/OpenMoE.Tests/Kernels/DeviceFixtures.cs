using OpenMoE.Runtime.Devices;

namespace OpenMoE.Tests.Kernels;

/// <summary>One accelerator shared by a test class; the per-accelerator subclasses pick the kind.</summary>
public abstract class DeviceFixture : IDisposable
{
    protected DeviceFixture(DeviceKind kind) => Device = DeviceFactory.Create(kind);

    public ComputeDevice Device { get; }

    public void Dispose()
    {
        Device.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>ILGPU's CPU accelerator (always available).</summary>
public sealed class CpuDeviceFixture() : DeviceFixture(DeviceKind.Cpu);

#if OPENMOE_CUDA_TESTS
/// <summary>
/// The first CUDA GPU. Compiled only with OPENMOE_CUDA_TESTS=1; on a machine without a GPU the
/// fixture then fails every CUDA test with DeviceUnavailableException's message, on purpose.
/// </summary>
public sealed class CudaDeviceFixture() : DeviceFixture(DeviceKind.Cuda);
#endif
