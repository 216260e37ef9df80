using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace OpenMoE.Tests.Gemm;

/// <summary>One small CPU accelerator (2 threads per group, one group per core) for the GEMM tests.</summary>
public sealed class GemmCpuFixture : IDisposable
{
    public GemmCpuFixture()
    {
        var device = new CPUDevice(2, 1, Environment.ProcessorCount);
        Context = Context.Create(builder => builder.CPU(device).EnableAlgorithms());
        Accelerator = device.CreateAccelerator(Context);
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
