using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training.Planning;

/// <summary>How much memory a plan may use, and where that figure comes from.</summary>
public sealed record DeviceMemory(long Bytes, string Description)
{
    /// <summary>
    /// The memory of <paramref name="device"/>: a CUDA device's global memory, or for the CPU
    /// accelerator what this process may use (the GC's limit: the container's or the machine's).
    /// </summary>
    public static DeviceMemory Of(ComputeDevice device) => device.Kind == DeviceKind.Cuda
        ? new(device.Accelerator.MemorySize, device.Description)
        : Host();

    /// <summary>What this process may use on the host (the CPU accelerator's memory).</summary>
    public static DeviceMemory Host() => new(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "cpu: memory this process may use");

    /// <summary>A device described by its size only (planning for a GPU this machine does not have).</summary>
    public static DeviceMemory Assumed(long bytes, string kind) => new(bytes, $"{kind}: {MemoryPlan.Format(bytes)} as given by --device-memory");
}
