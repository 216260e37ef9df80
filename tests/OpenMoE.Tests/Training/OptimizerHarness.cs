using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>Tensors and gradients uploaded to a device for optimizer tests, with host read-back.</summary>
internal sealed class OptimizerHarness : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _values, _gradients;

    public OptimizerHarness(ComputeDevice device, ParameterInfo[] infos, float[][] values, float[][] gradients)
    {
        _device = device;
        Infos = infos;
        _values = Array.ConvertAll(values, v => device.Upload(v, "test weight"));
        _gradients = Array.ConvertAll(gradients, g => device.Upload(g, "test gradient"));
        Parameters = new DeviceParameters(infos, Array.ConvertAll(_values, b => (ArrayView<float>)b.View), Array.ConvertAll(_gradients, b => (ArrayView<float>)b.View));
    }

    public ParameterInfo[] Infos { get; }

    public DeviceParameters Parameters { get; }

    /// <summary>Tensor <paramref name="i"/>'s current values (after the queued work).</summary>
    public float[] Value(int i)
    {
        _device.Synchronize();
        return _values[i].GetAsArray1D();
    }

    /// <summary>Tensor <paramref name="i"/>'s current gradient (clipping and Adafactor overwrite it).</summary>
    public float[] Gradient(int i)
    {
        _device.Synchronize();
        return _gradients[i].GetAsArray1D();
    }

    public void SetGradient(int i, float[] gradient)
    {
        _gradients[i].View.CopyFromCPU(gradient);
        _device.Synchronize();
    }

    public void Dispose()
    {
        foreach (var buffer in _values.Concat(_gradients))
            buffer.Dispose();
    }
}
