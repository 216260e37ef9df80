using ILGPU;

namespace OpenMoE.Kernels.Optimizers;

/// <summary>One AdamW step's scalars (bias corrections precomputed on the host for the step).</summary>
public struct AdamWStep
{
    /// <summary>First- and second-moment decay (0.9, 0.95).</summary>
    public double Beta1, Beta2;
    /// <summary>Added to the root of the second moment (1e-8).</summary>
    public double Epsilon;
    /// <summary>Decoupled weight decay of this tensor (0 for vectors: norm weights are not decayed).</summary>
    public double Decay;
    /// <summary>Learning rate of the step.</summary>
    public double LearningRate;
    /// <summary>1 - beta1^t and 1 - beta2^t.</summary>
    public double Correction1, Correction2;
}

/// <summary>
/// AdamW (Loshchilov and Hutter) on one tensor: bias-corrected moments and decoupled weight decay,
/// every element's arithmetic in double and rounded to float once per stored value. Elementwise,
/// so the CPU accelerator gives the reference's bits.
/// </summary>
public static class AdamWKernels
{
    /// <summary>w, m, v [length] updated in place from g [length]. Grid-stride over spans (see <see cref="ElementLoop"/>).</summary>
    public static void UpdateKernel(ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v,
        long length, AdamWStep step, int span)
    {
        for (long start = ElementLoop.Start(span); start < length; start += ElementLoop.Stride(span))
        {
            long end = start + span < length ? start + span : length;
            for (long j = start; j < end; j++)
            {
                double grad = g[j];
                double mj = step.Beta1 * m[j] + (1 - step.Beta1) * grad;
                double vj = step.Beta2 * v[j] + (1 - step.Beta2) * grad * grad;
                m[j] = (float)mj;
                v[j] = (float)vj;
                double update = mj / step.Correction1 / (Math.Sqrt(vj / step.Correction2) + step.Epsilon);
                w[j] = (float)(w[j] - step.LearningRate * (update + step.Decay * w[j]));
            }
        }
    }

    /// <summary>Reference twin of <see cref="UpdateKernel"/>.</summary>
    public static void Reference(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, AdamWStep step)
    {
        for (int j = 0; j < w.Length; j++)
        {
            double grad = g[j];
            double mj = step.Beta1 * m[j] + (1 - step.Beta1) * grad;
            double vj = step.Beta2 * v[j] + (1 - step.Beta2) * grad * grad;
            m[j] = (float)mj;
            v[j] = (float)vj;
            double update = mj / step.Correction1 / (Math.Sqrt(vj / step.Correction2) + step.Epsilon);
            w[j] = (float)(w[j] - step.LearningRate * (update + step.Decay * w[j]));
        }
    }
}
