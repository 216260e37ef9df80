using OpenMoE.Kernels.Gemm;

namespace OpenMoE.Runtime.Gemm;

/// <summary>Argument checks every provider runs before touching memory.</summary>
internal static class GemmChecks
{
    /// <summary>Validates the shape and that the last product of the batch fits in each operand.</summary>
    public static void ValidateBatched(in GemmDesc desc, long aLength, long strideA, long bLength, long strideB,
        long cLength, long strideC, int batch)
    {
        if (batch < 0)
            throw new ArgumentException($"GEMM batch must be >= 0, got {batch}.");
        if (strideA < 0 || strideB < 0 || strideC < 0)
            throw new ArgumentException($"GEMM batch strides must be >= 0, got {strideA}, {strideB}, {strideC}.");
        long last = Math.Max(0, batch - 1);
        desc.Validate(aLength - last * strideA, bLength - last * strideB, cLength - last * strideC);
        if (batch > 1 && strideC < desc.CExtent && desc.CExtent > 0)
            throw new ArgumentException(
                $"GEMM batch outputs overlap: strideC={strideC} is smaller than one C extent {desc.CExtent}.");
    }
}
