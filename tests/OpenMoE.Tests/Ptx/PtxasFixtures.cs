namespace OpenMoE.Tests.Ptx;

/// <summary>
/// ptxas -v output captured from CUDA 12.4.131's ptxas (Debian trixie's nvidia-cuda-toolkit) on
/// this project's kernels, so the parser is tested against the real wording, not a guess at it.
/// </summary>
internal static class PtxasFixtures
{
    /// <summary><c>ptxas -arch=sm_80 -v Attention.Causal.ptx</c>: a stack frame, and cmem after the registers.</summary>
    public const string AttentionCausalSm80 = """
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'Kernel_Causal' for 'sm_80'
        ptxas info    : Function properties for Kernel_Causal
            128 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 40 registers, 128 bytes cumulative stack size, 448 bytes cmem[0]
        """;

    /// <summary><c>ptxas -arch=sm_90 -v GemmTiledKernel.Kernel.ptx</c>: static shared memory.</summary>
    public const string GemmSm90 = """
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'Kernel_Kernel' for 'sm_90'
        ptxas info    : Function properties for Kernel_Kernel
            0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 28 registers, 2048 bytes smem
        """;

    /// <summary><c>ptxas -arch=sm_90 -v -maxrregcount=16 AttentionBackward.Query.ptx</c>: forced spills, after a warning.</summary>
    public const string QueryBackwardSpillsSm90 = """
        ptxas warning : For profile sm_90 adjusting per thread register count of 16 to lower bound of 24
        ptxas info    : Overriding maximum register limit 256 for 'Kernel_Query' with  24 of maxrregcount option
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'Kernel_Query' for 'sm_90'
        ptxas info    : Function properties for Kernel_Query
            56 bytes stack frame, 72 bytes spill stores, 168 bytes spill loads
        ptxas info    : Used 24 registers, 56 bytes cumulative stack size
        """;

    /// <summary>A hand-written PTX with a local array in a callee: ptxas reports the callee's properties after the entry's.</summary>
    public const string EntryThenCalleeSm90 = """
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'Kernel_Test' for 'sm_90'
        ptxas info    : Function properties for Kernel_Test
            64 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 8 registers, 64 bytes cumulative stack size, 512 bytes smem
        ptxas info    : Function properties for helper
            0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        """;

    /// <summary>ptxas rejecting a PTX file (exit code 255).</summary>
    public const string Rejected = """
        ptxas bad.ptx, line 4; error   : Unknown modifier '.op'
        ptxas bad.ptx, line 4; error   : Not a name of any known instruction: 'bogus'
        ptxas fatal   : Ptx assembly aborted due to errors
        """;
}
