using ILGPU;
using OpenMoE.Kernels.Optimizers;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) on the device: bias-corrected first and second moments and
/// decoupled weight decay <c>w -= lr * decay * w</c>, applied to matrices only (norm weights are not
/// decayed). Kernels and their twin: <see cref="AdamWKernels"/>. State is made once, so a step allocates nothing.
/// </summary>
public sealed class AdamW : IOptimizer
{
    private readonly ComputeDevice _device;
    private readonly double _beta1, _beta2, _epsilon, _weightDecay;
    private readonly OptimizerState _state;
    private readonly ParameterInfo[] _infos;
    private readonly ArrayView<float>[] _m, _v;

    /// <summary>Creates zero moments for <paramref name="parameters"/>.</summary>
    public AdamW(ComputeDevice device, ParameterInfo[] parameters, double beta1 = 0.9, double beta2 = 0.95, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        _device = device;
        (_beta1, _beta2, _epsilon, _weightDecay) = (beta1, beta2, epsilon, weightDecay);
        _state = new OptimizerState(device, Name);
        _infos = parameters;
        _m = Array.ConvertAll(parameters, p => _state.Add("m/" + p.Name, p.Elements));
        _v = Array.ConvertAll(parameters, p => _state.Add("v/" + p.Name, p.Elements));
    }

    /// <inheritdoc />
    public string Name => "adamw";

    /// <inheritdoc />
    public TensorReads DownloadState() => _state.Download();

    /// <inheritdoc />
    public void Restore(TensorReads state) => _state.Restore(state);

    /// <inheritdoc />
    public void Step(DeviceParameters parameters, long step, double learningRate)
    {
        parameters.RequireTensors(_infos, "AdamW");
        var scalars = new AdamWStep
        {
            Beta1 = _beta1, Beta2 = _beta2, Epsilon = _epsilon, LearningRate = learningRate,
            Correction1 = 1 - Math.Pow(_beta1, step), Correction2 = 1 - Math.Pow(_beta2, step),
        };
        for (int i = 0; i < parameters.Infos.Length; i++)
        {
            scalars.Decay = parameters.Infos[i].Shape.Length >= 2 ? _weightDecay : 0;
            _device.Optimizers.AdamW(parameters.Values[i], parameters.Gradients[i], _m[i], _v[i], parameters.Infos[i].Elements, scalars);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _state.Dispose();
}
