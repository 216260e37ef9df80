using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Launch shape for the grouped grid-stride routing kernels (DESIGN §3): few logical threads on the
/// CPU accelerator, where each one is an OS thread, and a grid large enough to fill a GPU.
/// </summary>
public static class GridStrideLaunch
{
    /// <summary>A configuration covering <paramref name="work"/> items with a grid-stride loop.</summary>
    public static KernelConfig For(Accelerator accelerator, long work)
    {
        bool cpu = accelerator.AcceleratorType == AcceleratorType.CPU;
        int groupSize = cpu ? accelerator.MaxNumThreadsPerGroup : Math.Min(256, accelerator.MaxNumThreadsPerGroup);
        long maxGroups = cpu ? accelerator.NumMultiprocessors : (long)accelerator.NumMultiprocessors * 8;
        long groups = Math.Clamp((Math.Max(work, 1) + groupSize - 1) / groupSize, 1, maxGroups);
        return new KernelConfig((int)groups, groupSize);
    }

    /// <summary>One group of one thread, for the tiny sequential passes.</summary>
    public static KernelConfig Single => new KernelConfig(1, 1);
}
