using OpenMoE.Runtime.Threading;

namespace OpenMoE.Training;

/// <summary>
/// Adafactor (Shazeer and Stern, 2018) with OpenMoE's T5X settings (DESIGN §2.5): second-moment
/// decay <c>beta2_t = 1 - t^-0.8</c>, no momentum, update clipping at RMS 1.0, parameter scaling
/// (the step is <c>lr * max(eps2, RMS(param))</c>), and factored second moments (row and column
/// means) for every matrix whose last two dims are both at least <see cref="MinDimToFactor"/>;
/// a 3-d expert stack [E, In, Out] is factored per expert. Smaller tensors keep a full second moment.
/// State and scratch are made once, so a step allocates nothing.
/// </summary>
public sealed class Adafactor : IOptimizer
{
    private readonly Dictionary<string, float[]> _state = new(StringComparer.Ordinal);
    private readonly Layout[] _layouts;
    private readonly Action<int> _update;
    private HostParameters? _parameters;
    private double _beta2, _learningRate;

    /// <summary>Creates the state for <paramref name="parameters"/>.</summary>
    public Adafactor(HostParameters parameters, double decayRate = 0.8, double clipThreshold = 1.0, int minDimToFactor = 128,
        double epsilon1 = 1e-30, double epsilon2 = 1e-3)
    {
        DecayRate = decayRate;
        ClipThreshold = clipThreshold;
        MinDimToFactor = minDimToFactor;
        Epsilon1 = epsilon1;
        Epsilon2 = epsilon2;
        _layouts = parameters.Infos.Select(p =>
        {
            var shape = p.Shape;
            bool factored = shape.Length >= 2 && shape[^1] >= minDimToFactor && shape[^2] >= minDimToFactor;
            int rows = shape.Length >= 2 ? (int)shape[^2] : 1, cols = (int)shape[^1];
            int slices = (int)(p.Elements / ((long)rows * cols));
            if (factored)
            {
                var vr = _state["vr/" + p.Name] = new float[(long)slices * rows];
                var vc = _state["vc/" + p.Name] = new float[(long)slices * cols];
                return new Layout(true, slices, rows, cols, [], vr, vc, new double[cols]);
            }
            var v = _state["v/" + p.Name] = new float[p.Elements];
            return new Layout(false, slices, rows, cols, v, [], [], []);
        }).ToArray();
        _update = UpdateTensor;
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
    public IReadOnlyDictionary<string, float[]> State => _state;

    /// <inheritdoc />
    public void Restore(IReadOnlyDictionary<string, float[]> state)
    {
        foreach (var (name, target) in _state)
        {
            if (!state.TryGetValue(name, out var source) || source.Length != target.Length)
                throw new InvalidDataException($"Adafactor state '{name}' is missing or has the wrong size in the checkpoint.");
            source.CopyTo(target, 0);
        }
    }

    /// <inheritdoc />
    public void Step(HostParameters parameters, long step, double learningRate)
    {
        _beta2 = 1.0 - Math.Pow(step, -DecayRate);
        _learningRate = learningRate;
        _parameters = parameters;
        // Tensors are independent: updating them in parallel keeps every result bit-identical.
        try
        {
            HostParallelFor.Shared.For(_layouts.Length, _update);
        }
        finally
        {
            _parameters = null;
        }
    }

    private void UpdateTensor(int i)
    {
        var layout = _layouts[i];
        var w = _parameters!.Values[i];
        var g = _parameters.Gradients[i];
        // The update overwrites the gradient (it is not needed afterwards). The passes that compute it
        // also sum the squares of the update and of w, each in element order: the same sums as two
        // separate RMS passes, bit for bit, with two fewer passes over the tensor and the two
        // dependency chains of additions overlapping the other work.
        var (updateSquares, weightSquares) = layout.Factored ? FactoredUpdate(layout, g, w, _beta2) : FullUpdate(layout.V, g, w, _beta2);
        double rmsUpdate = Math.Sqrt(updateSquares / Math.Max(1, g.Length));
        double rmsWeight = Math.Sqrt(weightSquares / Math.Max(1, w.Length));
        double clip = Math.Max(1.0, rmsUpdate / ClipThreshold);
        double stepSize = _learningRate * Math.Max(Epsilon2, rmsWeight) / clip;
        HostVectors.SubtractScaled(w, g, stepSize);
    }

    /// <summary>update = g / sqrt(v) with v updated in place (written over g). Returns the sums of update² and w².</summary>
    private (double UpdateSquares, double WeightSquares) FullUpdate(float[] v, float[] g, float[] w, double beta2)
    {
        double updateSquares = 0, weightSquares = 0;
        for (int j = 0; j < g.Length; j++)
        {
            double grad = g[j];
            double vj = beta2 * v[j] + (1 - beta2) * (grad * grad + Epsilon1);
            v[j] = (float)vj;
            float update = (float)(grad / Math.Sqrt(vj));
            g[j] = update;
            updateSquares += (double)update * update;
            weightSquares += (double)w[j] * w[j];
        }
        return (updateSquares, weightSquares);
    }

    /// <summary>The factored update (written over g), per slice. Returns the sums of update² and w² in element order.</summary>
    private (double UpdateSquares, double WeightSquares) FactoredUpdate(Layout layout, float[] g, float[] w, double beta2)
    {
        var vr = layout.Vr;
        var vc = layout.Vc;
        int rows = layout.Rows, cols = layout.Cols;
        var colSums = layout.ColumnScratch;
        double updateSquares = 0, weightSquares = 0;
        for (int s = 0; s < layout.Slices; s++)
        {
            long offset = (long)s * rows * cols;
            Array.Clear(colSums);
            double rowMeanSum = 0;
            for (int r = 0; r < rows; r++)
            {
                double rowSum = 0;
                long rowStart = offset + (long)r * cols;
                for (int c = 0; c < cols; c++)
                {
                    double sq = (double)g[rowStart + c] * g[rowStart + c] + Epsilon1;
                    rowSum += sq;
                    colSums[c] += sq;
                    weightSquares += (double)w[rowStart + c] * w[rowStart + c];
                }
                int index = s * rows + r;
                vr[index] = (float)(beta2 * vr[index] + (1 - beta2) * rowSum / cols);
                rowMeanSum += vr[index];
            }
            for (int c = 0; c < cols; c++)
                vc[s * cols + c] = (float)(beta2 * vc[s * cols + c] + (1 - beta2) * colSums[c] / rows);
            // 1/sqrt per row and per column, not per element: the factored update is an outer product.
            for (int c = 0; c < cols; c++)
                colSums[c] = 1.0 / Math.Sqrt(vc[s * cols + c]);
            double rowMean = rowMeanSum / rows;
            for (int r = 0; r < rows; r++)
            {
                double rowFactor = 1.0 / Math.Sqrt(vr[s * rows + r] / rowMean);
                long rowStart = offset + (long)r * cols;
                for (int c = 0; c < cols; c++)
                {
                    float update = (float)(g[rowStart + c] * rowFactor * colSums[c]);
                    g[rowStart + c] = update;
                    updateSquares += (double)update * update;
                }
            }
        }
        return (updateSquares, weightSquares);
    }

    /// <summary>
    /// One tensor's shape and state: v [elements] when not factored, else vr [slices * rows],
    /// vc [slices * cols] and a column scratch [cols] of its own (tensors update in parallel).
    /// </summary>
    private sealed record Layout(bool Factored, int Slices, int Rows, int Cols, float[] V, float[] Vr, float[] Vc, double[] ColumnScratch);
}
