using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Device scratch of the router losses and its pinned host copies, made once per MoE layer so a
/// training step computes the losses without allocating. Owned by this object (dispose to free).
/// </summary>
public sealed class RouterLossScratch : IDisposable
{
    private readonly PinnedHostArray<float> _fraction, _meanProbability, _z;
    private readonly Accelerator _accelerator;

    internal RouterLossScratch(Accelerator accelerator, MemoryBuffer1D<float, Stride1D.Dense> fraction,
        MemoryBuffer1D<float, Stride1D.Dense> meanProbability, MemoryBuffer1D<float, Stride1D.Dense> z)
    {
        _accelerator = accelerator;
        Fraction = fraction;
        MeanProbability = meanProbability;
        Z = z;
        _fraction = new PinnedHostArray<float>(accelerator, new float[fraction.Length]);
        _meanProbability = new PinnedHostArray<float>(accelerator, new float[meanProbability.Length]);
        _z = new PinnedHostArray<float>(accelerator, new float[z.Length]);
    }

    /// <summary>Fraction of assignments per expert and group. // [G, E]</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Fraction { get; }
    /// <summary>Mean router probability per expert and group. // [G, E]</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> MeanProbability { get; }
    /// <summary>Per-token z-loss term. // [N]</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Z { get; }

    /// <summary>Waits for the device, then returns host copies of the three buffers (valid until the next call).</summary>
    internal (float[] Fraction, float[] MeanProbability, float[] Z) Download()
    {
        _fraction.CopyFrom(Fraction.View);
        _meanProbability.CopyFrom(MeanProbability.View);
        _z.CopyFrom(Z.View);
        _accelerator.Synchronize();
        return (_fraction.Array, _meanProbability.Array, _z.Array);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Fraction.Dispose();
        MeanProbability.Dispose();
        Z.Dispose();
        _fraction.Dispose();
        _meanProbability.Dispose();
        _z.Dispose();
    }
}
