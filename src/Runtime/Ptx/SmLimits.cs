namespace OpenMoE.Runtime.Ptx;

/// <summary>
/// Per-SM limits that bound how many blocks of a kernel are resident at once (the inputs of
/// NVIDIA's occupancy calculator).
/// </summary>
/// <param name="RegistersPerSm">32-bit registers in the SM's register file.</param>
/// <param name="MaxRegistersPerThread">Most registers one thread may use.</param>
/// <param name="RegisterAllocationUnit">Registers are handed to a warp in multiples of this.</param>
/// <param name="MaxWarpsPerSm">Resident warps (threads / 32).</param>
/// <param name="MaxBlocksPerSm">Resident blocks, however small.</param>
/// <param name="SharedMemoryPerSm">Shared memory per SM at the largest carveout, bytes.</param>
/// <param name="MaxSharedMemoryPerBlock">Most shared memory one block may use, bytes.</param>
/// <param name="ReservedSharedMemoryPerBlock">Shared memory the CUDA runtime takes for itself in every block (sm_80 and later), bytes.</param>
/// <param name="SharedMemoryAllocationUnit">Shared memory is handed to a block in multiples of this, bytes.</param>
public sealed record SmLimits(
    int RegistersPerSm, int MaxRegistersPerThread, int RegisterAllocationUnit, int MaxWarpsPerSm, int MaxBlocksPerSm,
    int SharedMemoryPerSm, int MaxSharedMemoryPerBlock, int ReservedSharedMemoryPerBlock, int SharedMemoryAllocationUnit)
{
    /// <summary>Threads per warp on every NVIDIA GPU.</summary>
    public const int WarpSize = 32;

    /// <summary>H100/H200 (compute capability 9.0); 228 KB per SM is 227 KB for the block plus the 1 KB reserve.</summary>
    public static SmLimits Sm90 { get; } = new(
        RegistersPerSm: 65536, MaxRegistersPerThread: 255, RegisterAllocationUnit: 256, MaxWarpsPerSm: 64, MaxBlocksPerSm: 32,
        SharedMemoryPerSm: 228 * 1024, MaxSharedMemoryPerBlock: 227 * 1024, ReservedSharedMemoryPerBlock: 1024, SharedMemoryAllocationUnit: 128);
}
