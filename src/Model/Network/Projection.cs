using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network;

/// <summary>
/// One weight matrix used as <c>y[rows, Out] = x[rows, In] @ W</c>. Hugging Face linear layers store
/// W as [Out, In] (so the product transposes it); OpenMoE's stacked expert tensors store each
/// expert's slice as [In, Out] (no transpose, DESIGN §2.6).
/// </summary>
public readonly record struct Projection(ArrayView<float> Weight, int In, int Out, bool StoredOutIn)
{
    /// <summary>A Hugging Face linear weight [Out, In].</summary>
    public static Projection Linear(ArrayView<float> weight, int inFeatures, int outFeatures) =>
        new(weight, inFeatures, outFeatures, StoredOutIn: true);

    /// <summary>Expert <paramref name="expert"/> of a stacked [E, In, Out] tensor.</summary>
    public static Projection StackedSlice(ArrayView<float> stack, int expert, int inFeatures, int outFeatures)
    {
        long size = (long)inFeatures * outFeatures;
        return new(stack.SubView(expert * size, size), inFeatures, outFeatures, StoredOutIn: false);
    }

    /// <summary>y [rows, Out] = x [rows, In] @ W, or y += ... with <paramref name="accumulate"/>.</summary>
    public void Apply(IGemmProvider gemm, ArrayView<float> x, ArrayView<float> y, int rows, bool accumulate = false)
    {
        if (rows == 0)
            return;
        var desc = GemmDesc.Create(rows, Out, In, transA: false, transB: StoredOutIn, beta: accumulate ? 1f : 0f);
        gemm.Sgemm(desc, x, Weight, y);
    }

    /// <summary>
    /// Backward of <see cref="Apply"/>: gradient.Weight += the weight gradient (in W's storage layout)
    /// and, when <paramref name="dx"/> is given, dx [rows, In] = dy [rows, Out] @ W^T (or += with
    /// <paramref name="accumulateDx"/>). <paramref name="gradient"/> is this projection bound to the gradient buffers.
    /// </summary>
    public void Backward(IGemmProvider gemm, Projection gradient, ArrayView<float> x, ArrayView<float> dy,
        ArrayView<float>? dx, int rows, bool accumulateDx = false)
    {
        if (rows == 0)
            return;
        // HF linear W [Out, In]: dW += dy^T x. Stacked slice W [In, Out]: dW += x^T dy.
        if (StoredOutIn)
            gemm.Sgemm(GemmDesc.Create(Out, In, rows, transA: true, transB: false, beta: 1f), dy, x, gradient.Weight);
        else
            gemm.Sgemm(GemmDesc.Create(In, Out, rows, transA: true, transB: false, beta: 1f), x, dy, gradient.Weight);
        if (dx is { } target)
            gemm.Sgemm(GemmDesc.Create(rows, In, Out, transA: false, transB: !StoredOutIn, beta: accumulateDx ? 1f : 0f), dy, Weight, target);
    }
}
