using ILGPU;

namespace OpenMoE.Kernels;

/// <summary>
/// The grid-stride loop shape of the elementwise kernels: thread t handles the spans of
/// <c>span</c> consecutive elements starting at (t + k * threads) * span. With span 1 this is
/// the classic coalesced grid-stride loop (CUDA); with span = count / threads each thread owns
/// one contiguous block (CPU). Both visit every element exactly once.
/// </summary>
public static class ElementLoop
{
    /// <summary>First element of this thread's first span.</summary>
    public static long Start(int span) => (long)Grid.GlobalIndex.X * span;

    /// <summary>This thread's first element after <paramref name="packs"/> whole packs (the packed kernels' tail, one element per thread).</summary>
    public static long TailStart(int packs) => (long)packs * Pack8.Width + Grid.GlobalIndex.X;

    /// <summary>Distance between this thread's consecutive spans.</summary>
    public static long Stride(int span) => (long)Grid.DimX * Group.DimX * span;
}
