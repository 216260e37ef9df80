using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace OpenMoE.Runtime.Devices;

/// <summary>Creates the ILGPU context and accelerator for <c>--device auto|cuda|cpu</c>.</summary>
public static class DeviceFactory
{
    /// <summary>
    /// The CPU accelerator runs every logical thread as an OS thread, so it is made small and
    /// shaped to the cores: warps of 2, one warp per group, one multiprocessor per core (DESIGN §3).
    /// </summary>
    public static CPUDevice SmallCpuDevice() => new(2, 1, Environment.ProcessorCount);

    /// <summary>Parses <c>auto|cuda|cpu</c> (case-insensitive); throws <see cref="ArgumentException"/> naming the choices.</summary>
    public static DeviceKind Parse(string text) => text.ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cuda" or "gpu" => DeviceKind.Cuda,
        "cpu" => DeviceKind.Cpu,
        _ => throw new ArgumentException($"Unknown device '{text}': use auto, cuda or cpu."),
    };

    /// <summary>
    /// Creates the device. Auto picks CUDA device <paramref name="cudaIndex"/> if present, else the CPU.
    /// Cuda without a CUDA device throws <see cref="DeviceUnavailableException"/>.
    /// </summary>
    public static ComputeDevice Create(DeviceKind kind, int cudaIndex = 0)
    {
        // O2 = Release. MathMode stays Default: the fast mode trades exp/div/rsqrt precision
        // for speed, and these ops are bandwidth-bound while their results must match the references.
        var context = Context.Create(builder => builder
            .Cuda()
            .CPU(SmallCpuDevice())
            .EnableAlgorithms()
            .Optimize(OptimizationLevel.O2));
        try
        {
            var cudaDevices = context.GetCudaDevices();
            bool useCuda = kind switch
            {
                DeviceKind.Cpu => false,
                DeviceKind.Auto => cudaDevices.Count > cudaIndex,
                _ => cudaDevices.Count > cudaIndex
                    ? true
                    : throw new DeviceUnavailableException(cudaDevices.Count == 0
                        ? "No CUDA device found (is the NVIDIA driver installed and libcuda.so loadable?). " +
                          "Run with --device cpu or --device auto."
                        : $"CUDA device {cudaIndex} does not exist: this machine has {cudaDevices.Count} " +
                          $"(indices 0..{cudaDevices.Count - 1})."),
            };
            Accelerator accelerator = useCuda
                ? context.CreateCudaAccelerator(cudaIndex)
                : context.GetCPUDevice(0).CreateAccelerator(context);
            return new ComputeDevice(context, accelerator, useCuda ? DeviceKind.Cuda : DeviceKind.Cpu);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }
}
