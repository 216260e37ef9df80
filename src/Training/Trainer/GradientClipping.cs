using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Optimizers;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// Global-norm gradient clipping over all parameters together, on the device: chunk sums of
/// squares of every gradient (<see cref="SumOfSquares"/>: a fixed order, so the same bits on every
/// run), added in order by one thread; only the norm (8 bytes) comes back to the host, which
/// decides whether to rescale. Scratch is made once, so a step allocates nothing here.
/// </summary>
public sealed class GradientClipping : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly ParameterInfo[] _infos;
    private readonly int[] _offsets;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _partials, _total;
    private readonly PinnedHostArray<double> _norm;

    /// <summary>Scratch for gradients shaped like <paramref name="parameters"/>.</summary>
    public GradientClipping(ComputeDevice device, DeviceParameters parameters)
    {
        _device = device;
        _infos = parameters.Infos;
        _offsets = new int[parameters.Infos.Length + 1];
        for (int i = 0; i < parameters.Infos.Length; i++)
            _offsets[i + 1] = checked(_offsets[i] + SumOfSquares.Chunks(parameters.Infos[i].Elements));
        _partials = device.Allocate<double>(Math.Max(1, _offsets[^1]), "clipping chunk sums");
        _total = device.Allocate<double>(1, "clipping sum of squares");
        _norm = new PinnedHostArray<double>(device.Accelerator, new double[1]);
    }

    /// <summary>The L2 norm of all gradients of <paramref name="parameters"/>.</summary>
    public double GlobalNorm(DeviceParameters parameters)
    {
        parameters.RequireTensors(_infos, "Gradient clipping");
        var ops = _device.Optimizers;
        for (int i = 0; i < parameters.Gradients.Length; i++)
            ops.ChunkSumsOfSquares(parameters.Gradients[i], _partials.View.SubView(_offsets[i], _offsets[i + 1] - _offsets[i]), parameters.Gradients[i].Length);
        ops.Total(_partials.View, _total.View, _offsets[^1]);
        _norm.CopyFrom(_total.View);
        _device.Synchronize();
        return Math.Sqrt(_norm.Array[0]);
    }

    /// <summary>Scales all gradients by maxNorm / norm when the norm exceeds <paramref name="maxNorm"/> (> 0). Returns the norm before clipping.</summary>
    public double Clip(DeviceParameters parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float factor = (float)(maxNorm / norm);
            foreach (var g in parameters.Gradients)
                _device.Optimizers.Scale(g, g.Length, factor);
        }
        return norm;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _partials.Dispose();
        _total.Dispose();
        _norm.Dispose();
    }
}
