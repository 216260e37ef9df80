using ILGPU;
using OpenMoE.Model.Network;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// Moves <see cref="HostParameters"/> to and from a network's device tensors. The host arrays stay
/// pinned and wrapped as accelerator buffers for the life of this object, so each transfer is a
/// plain copy (a memory copy on the CPU accelerator) that allocates nothing.
/// </summary>
public sealed class ParameterTransfers : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly PinnedHostArray<float>[] _values, _gradients;
    private readonly ArrayView<float>[] _deviceValues, _deviceGradients;

    /// <summary>Binds <paramref name="parameters"/> to <paramref name="weights"/> and <paramref name="gradients"/> (same spec) on <paramref name="device"/>.</summary>
    public ParameterTransfers(HostParameters parameters, ComputeDevice device, DeviceWeights weights, DeviceWeights gradients)
    {
        _device = device;
        int count = parameters.Infos.Length;
        _values = new PinnedHostArray<float>[count];
        _gradients = new PinnedHostArray<float>[count];
        _deviceValues = new ArrayView<float>[count];
        _deviceGradients = new ArrayView<float>[count];
        for (int i = 0; i < count; i++)
        {
            var info = parameters.Infos[i];
            _values[i] = new PinnedHostArray<float>(device.Accelerator, parameters.Values[i]);
            _gradients[i] = new PinnedHostArray<float>(device.Accelerator, parameters.Gradients[i]);
            _deviceValues[i] = weights[info];
            _deviceGradients[i] = gradients[info];
        }
    }

    /// <summary>Copies the device gradients to <see cref="HostParameters.Gradients"/>.</summary>
    public void DownloadGradients()
    {
        for (int i = 0; i < _gradients.Length; i++)
            _gradients[i].CopyFrom(_deviceGradients[i]);
        _device.Synchronize();
    }

    /// <summary>Copies <see cref="HostParameters.Values"/> to the device weights.</summary>
    public void UploadValues()
    {
        for (int i = 0; i < _values.Length; i++)
            _values[i].CopyTo(_deviceValues[i]);
        _device.Synchronize();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var array in _values) array.Dispose();
        foreach (var array in _gradients) array.Dispose();
    }
}
