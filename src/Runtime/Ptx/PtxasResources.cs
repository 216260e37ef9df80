namespace OpenMoE.Runtime.Ptx;

/// <summary>What <c>ptxas -v</c> reports for one entry function on one architecture.</summary>
/// <param name="Function">The PTX entry name (ILGPU writes <c>Kernel_&lt;method&gt;</c>).</param>
/// <param name="Architecture">ptxas's <c>-arch</c>, e.g. <c>sm_90</c>.</param>
/// <param name="Registers">Registers per thread.</param>
/// <param name="StackFrameBytes">Per-thread stack frame: local memory (DRAM-backed, cached in L1).</param>
/// <param name="SpillStoreBytes">Bytes of register spills stored to local memory.</param>
/// <param name="SpillLoadBytes">Bytes of register spills loaded back from local memory.</param>
/// <param name="SharedMemoryBytes">Static shared memory per block.</param>
public sealed record PtxasResources(
    string Function, string Architecture, int Registers, int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes, int SharedMemoryBytes)
{
    /// <summary>Whether the kernel touches local memory (a stack frame or spills), which is slow next to registers.</summary>
    public bool UsesLocalMemory => StackFrameBytes > 0 || SpillStoreBytes > 0 || SpillLoadBytes > 0;
}
