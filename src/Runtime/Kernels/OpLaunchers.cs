using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// What every set of launchers shares on one device: the kernel cache every launch goes through,
/// the one launch-shape policy, and the default stream the launches are queued on.
/// </summary>
public abstract class OpLaunchers
{
    private protected OpLaunchers(Accelerator accelerator, KernelCache cache, LaunchShapes shapes)
    {
        Stream = accelerator.DefaultStream;
        Cache = cache;
        Shapes = shapes;
    }

    /// <summary>Grid/group sizes used by these launchers.</summary>
    public LaunchShapes Shapes { get; }

    private protected KernelCache Cache { get; }
    private protected AcceleratorStream Stream { get; }

    /// <summary>A shape mistake is an <see cref="ArgumentException"/> naming the tensor, not a silent out-of-bounds access.</summary>
    private protected static void Require<T>(ArrayView<T> view, long elements, string what) where T : unmanaged
    {
        if (view.Length < elements)
            throw new ArgumentException($"{what} needs {elements:N0} elements but the view has {view.Length:N0}.");
    }
}
