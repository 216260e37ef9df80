using System.Globalization;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace OpenMoE.Runtime.Devices;

/// <summary>Formats the chosen device as one line for printing.</summary>
internal static class DeviceDescription
{
    public static string Describe(Accelerator accelerator, DeviceKind kind)
    {
        string gib = (accelerator.MemorySize / (1024.0 * 1024.0 * 1024.0)).ToString("F1", CultureInfo.InvariantCulture);
        return accelerator is CudaAccelerator cuda
            ? $"cuda: {accelerator.Name} ({gib} GiB, {cuda.Architecture}, {accelerator.NumMultiprocessors} SMs)"
            : $"{kind.ToString().ToLowerInvariant()}: {accelerator.Name} ({accelerator.NumMultiprocessors} processors x " +
              $"{accelerator.MaxNumThreadsPerGroup} threads per group)";
    }
}
