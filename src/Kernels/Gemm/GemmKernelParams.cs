namespace OpenMoE.Kernels.Gemm;

/// <summary>
/// The scalar arguments of <see cref="GemmTiledKernel"/>: a <see cref="GemmDesc"/> flattened
/// to plain ints and floats (kernels take no bools), plus the batch strides.
/// </summary>
public readonly struct GemmKernelParams
{
    public readonly int M, N, K;
    public readonly int TransA, TransB;
    public readonly int Lda, Ldb, Ldc;
    public readonly float Alpha, Beta;
    public readonly long StrideA, StrideB, StrideC;
    public readonly int Batch;

    public GemmKernelParams(in GemmDesc d, long strideA, long strideB, long strideC, int batch)
    {
        M = d.M; N = d.N; K = d.K;
        TransA = d.TransA ? 1 : 0; TransB = d.TransB ? 1 : 0;
        Lda = d.Lda; Ldb = d.Ldb; Ldc = d.Ldc;
        Alpha = d.Alpha; Beta = d.Beta;
        StrideA = strideA; StrideB = strideB; StrideC = strideC;
        Batch = batch;
    }
}
