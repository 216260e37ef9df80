namespace OpenMoE.Runtime.Gemm.Simd;

/// <summary>
/// A register tile of the blocked GEMM, with the cache blocking that suits it.
/// Packed A holds MR rows per k ([kc][MR]), packed B NR columns per k ([kc][NR]).
/// </summary>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of C per tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per tile (the SIMD direction: C rows are contiguous).</summary>
    static abstract int NR { get; }

    /// <summary>Depth of one packed block (B micro-panel [KC, NR] stays in L1).</summary>
    static abstract int KC { get; }

    /// <summary>Rows of one packed A block (a multiple of MR; [MC, KC] stays in L2).</summary>
    static abstract int MC { get; }

    /// <summary>Columns of one packed B panel (a multiple of NR).</summary>
    static abstract int NC { get; }

    /// <summary>Whether this CPU can run the tile.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>
    /// c[i*ldc + j] = sum_k pa[k*MR + i] * pb[k*NR + j] + beta * c[i*ldc + j] for the full
    /// MR x NR tile; when beta is 0, c is only written.
    /// </summary>
    static abstract void Run(int kc, float* pa, float* pb, float* c, long ldc, float beta);
}
