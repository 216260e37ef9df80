using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Model.Network.Backward;

/// <summary>Backward of <see cref="Projection"/> (y = x @ W) as two GEMMs with transposes.</summary>
public static class ProjectionBackward
{
    /// <summary>
    /// gradient.Weight += x^T·dy (in W's storage layout) and, when <paramref name="dx"/> is given,
    /// dx [rows, In] = dy [rows, Out] @ W^T (or += with <paramref name="accumulateDx"/>).
    /// </summary>
    public static void Backward(this Projection weight, IGemmProvider gemm, Projection gradient, ArrayView<float> x, ArrayView<float> dy,
        ArrayView<float>? dx, int rows, bool accumulateDx = false)
    {
        if (rows == 0)
            return;
        // HF linear W [Out, In]: dW += dy^T x. Stacked slice W [In, Out]: dW += x^T dy.
        var weightDesc = weight.StoredOutIn
            ? GemmDesc.Create(weight.Out, weight.In, rows, transA: true, transB: false, beta: 1f)
            : GemmDesc.Create(weight.In, weight.Out, rows, transA: true, transB: false, beta: 1f);
        if (weight.StoredOutIn)
            gemm.Sgemm(weightDesc, dy, x, gradient.Weight);
        else
            gemm.Sgemm(weightDesc, x, dy, gradient.Weight);
        if (dx is { } target)
        {
            var inputDesc = GemmDesc.Create(rows, weight.In, weight.Out, transA: false, transB: !weight.StoredOutIn, beta: accumulateDx ? 1f : 0f);
            gemm.Sgemm(inputDesc, dy, weight.Weight, target);
        }
    }
}
