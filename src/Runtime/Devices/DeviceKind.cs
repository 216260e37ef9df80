namespace OpenMoE.Runtime.Devices;

/// <summary>Which accelerator to run on (<c>--device auto|cuda|cpu</c>).</summary>
public enum DeviceKind
{
    /// <summary>The first CUDA GPU if one is present, else the CPU accelerator.</summary>
    Auto,
    /// <summary>A CUDA GPU; an error if none is present.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator, shaped to the machine's cores.</summary>
    Cpu,
}
