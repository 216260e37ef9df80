using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Optimizers;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// Adafactor (Shazeer and Stern, 2018) on the device with OpenMoE's T5X settings (DESIGN §2.5):
/// second-moment decay <c>beta2_t = 1 - t^-0.8</c>, no momentum, update clipping at RMS 1.0,
/// parameter scaling (the step is <c>lr * max(eps2, RMS(param))</c>), and factored second moments
/// (row and column means) for every matrix whose last two dims are both at least
/// <see cref="MinDimToFactor"/>; a 3-d expert stack [E, In, Out] is factored per expert. Smaller
/// tensors keep a full second moment. Kernels and their twin: <see cref="AdafactorKernels"/>. The
/// update is written over the gradient. State and scratch are made once, so a step allocates nothing.
/// Under expert parallelism an expert stack is split over the ranks (each holds [E/P, In, Out]); the
/// RMS of its update and weight (clipping, parameter scaling) is then that of the whole stack, from
/// every rank's sums (<see cref="SplitTensors"/>), so the step is the one a single process takes.
/// </summary>
public sealed class Adafactor : IOptimizer
{
    private readonly ComputeDevice _device;
    private readonly OptimizerState _state;
    private readonly ParameterInfo[] _infos;
    private readonly Layout[] _layouts;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _rowMean, _updatePartials, _weightPartials, _stepSize, _sums;
    private readonly SplitTensors? _split;
    private readonly double[] _hostSums = new double[2], _hostStep = new double[1];

    /// <summary>Creates the state for <paramref name="parameters"/>.</summary>
    public Adafactor(ComputeDevice device, ParameterInfo[] parameters, double decayRate = 0.8, double clipThreshold = 1.0, int minDimToFactor = AdafactorFactoring.DefaultMinDimToFactor,
        double epsilon1 = 1e-30, double epsilon2 = 1e-3, SplitTensors? split = null)
    {
        if (split is not null && split.IsSplit.Length != parameters.Length)
            throw new ArgumentException($"{parameters.Length} tensors need as many split flags (got {split.IsSplit.Length}).");
        _split = split;
        _device = device;
        DecayRate = decayRate;
        ClipThreshold = clipThreshold;
        MinDimToFactor = minDimToFactor;
        Epsilon1 = epsilon1;
        Epsilon2 = epsilon2;
        _state = new OptimizerState(device, Name);
        _infos = parameters;
        _layouts = Array.ConvertAll(parameters, p =>
        {
            var shape = p.Shape;
            bool factored = AdafactorFactoring.IsFactored(shape, minDimToFactor);
            int rows = shape.Length >= 2 ? checked((int)shape[^2]) : 1, cols = checked((int)shape[^1]);
            int slices = checked((int)(p.Elements / ((long)rows * cols)));
            return factored
                ? new Layout(true, slices, rows, cols, default, _state.Add("vr/" + p.Name, (long)slices * rows), _state.Add("vc/" + p.Name, (long)slices * cols))
                : new Layout(false, slices, rows, cols, _state.Add("v/" + p.Name, p.Elements), default, default);
        });
        long maxChunks = parameters.Length == 0 ? 1 : parameters.Max(p => SumOfSquares.Chunks(p.Elements));
        _rowMean = device.Allocate<double>(_layouts.Length == 0 ? 1 : _layouts.Max(l => l.Slices), "adafactor row means");
        _updatePartials = device.Allocate<double>(maxChunks, "adafactor update sums");
        _weightPartials = device.Allocate<double>(maxChunks, "adafactor weight sums");
        _stepSize = device.Allocate<double>(1, "adafactor step size");
        _sums = device.Allocate<double>(2, "adafactor split sums");
    }

    /// <summary>Second-moment decay exponent (0.8).</summary>
    public double DecayRate { get; }
    /// <summary>Update clipping threshold on the RMS of the update (1.0).</summary>
    public double ClipThreshold { get; }
    /// <summary>Both last dims at least this to factor (128, as T5X).</summary>
    public int MinDimToFactor { get; }
    /// <summary>Added to squared gradients (1e-30).</summary>
    public double Epsilon1 { get; }
    /// <summary>Lower bound of the parameter RMS in the step size (1e-3).</summary>
    public double Epsilon2 { get; }

    /// <inheritdoc />
    public string Name => "adafactor";

    /// <inheritdoc />
    public TensorReads DownloadState() => _state.Download();

    /// <inheritdoc />
    public void Restore(TensorReads state) => _state.Restore(state);

    /// <inheritdoc />
    public void Step(DeviceParameters parameters, long step, double learningRate)
    {
        parameters.RequireTensors(_infos, "Adafactor");
        var scalars = new AdafactorStep
        {
            Beta2 = 1.0 - Math.Pow(step, -DecayRate), Epsilon1 = Epsilon1, Epsilon2 = Epsilon2,
            ClipThreshold = ClipThreshold, LearningRate = learningRate,
        };
        var ops = _device.Optimizers;
        // One stream: the scratch sums and step size are reused by each tensor in turn.
        for (int i = 0; i < _layouts.Length; i++)
        {
            var layout = _layouts[i];
            var (w, g) = (parameters.Values[i], parameters.Gradients[i]);
            if (layout.Factored)
                ops.AdafactorFactored(g, layout.Vr, layout.Vc, _rowMean.View, layout.Slices, layout.Rows, layout.Cols, scalars);
            else
                ops.AdafactorFull(g, layout.V, g.Length, scalars);
            if (_split is { } split && split.IsSplit[i])
                ApplySplit(w, g, split, scalars);
            else
                ops.AdafactorApply(w, g, _updatePartials.View, _weightPartials.View, _stepSize.View, w.Length, scalars);
        }
    }

    // The step size of a tensor split over the ranks: its sums of squares added over them, its RMS over every element of the whole tensor.
    private void ApplySplit(ArrayView<float> w, ArrayView<float> update, SplitTensors split, AdafactorStep scalars)
    {
        var ops = _device.Optimizers;
        int chunks = SumOfSquares.Chunks(w.Length);
        ops.ChunkSumsOfSquares(update, _updatePartials.View, w.Length);
        ops.Total(_updatePartials.View, _sums.View.SubView(0, 1), chunks);
        ops.ChunkSumsOfSquares(w, _weightPartials.View, w.Length);
        ops.Total(_weightPartials.View, _sums.View.SubView(1, 1), chunks);
        _sums.View.CopyToCPU(_hostSums);
        split.Group.AllReduceSum(_hostSums);
        _hostStep[0] = AdafactorKernels.StepSize(_hostSums[0], _hostSums[1], w.Length * split.Group.Size, scalars);
        _stepSize.View.CopyFromCPU(_hostStep);
        ops.AdafactorApplyStep(w, update, _stepSize.View, w.Length);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _state.Dispose();
        _rowMean.Dispose();
        _updatePartials.Dispose();
        _weightPartials.Dispose();
        _stepSize.Dispose();
        _sums.Dispose();
    }

    /// <summary>One tensor's shape and state: v [elements] when not factored, else vr [slices * rows] and vc [slices * cols].</summary>
    private readonly record struct Layout(bool Factored, int Slices, int Rows, int Cols, ArrayView<float> V, ArrayView<float> Vr, ArrayView<float> Vc);
}

/// <summary>
/// Tensors of which each rank of <paramref name="Group"/> holds an equal share (expert stacks under
/// expert parallelism): <paramref name="IsSplit"/>[i] for the optimizer's tensor i.
/// </summary>
public sealed record SplitTensors(Runtime.Communication.ICommunicator Group, bool[] IsSplit);
