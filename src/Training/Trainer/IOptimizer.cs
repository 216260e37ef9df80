using OpenMoE.Runtime.Devices;
using OpenMoE.Model.Specs;

namespace OpenMoE.Training;

/// <summary>
/// An optimizer on the device: updates <see cref="DeviceParameters.Values"/> in place from the
/// gradients, with its state in device buffers made once. Its state is a set of named float tensors
/// (downloaded for checkpoints, uploaded on resume).
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>"adafactor" or "adamw".</summary>
    string Name { get; }

    /// <summary>One update at 1-based <paramref name="step"/> with learning rate <paramref name="learningRate"/> (queued on the device).</summary>
    void Step(DeviceParameters parameters, long step, double learningRate);

    /// <summary>The state tensors by name, each downloaded when it is read (its values at that time).</summary>
    TensorReads DownloadState();

    /// <summary>Replaces the state with <paramref name="state"/> (from <see cref="DownloadState"/> of the same optimizer and spec).</summary>
    void Restore(TensorReads state);
}

/// <summary>Optimizers by name.</summary>
public static class Optimizers
{
    /// <summary>
    /// "adafactor" (OpenMoE's settings) or "adamw", with zero state for <paramref name="parameters"/> on <paramref name="device"/>;
    /// <paramref name="split"/> names the tensors split over ranks (only Adafactor's step depends on a whole tensor).
    /// </summary>
    public static IOptimizer Create(string name, ComputeDevice device, ParameterInfo[] parameters, SplitTensors? split = null) => name switch
    {
        "adafactor" => new Adafactor(device, parameters, split: split),
        "adamw" => new AdamW(device, parameters),
        _ => throw new ArgumentException($"Unknown optimizer '{name}'; use adafactor or adamw."),
    };
}
