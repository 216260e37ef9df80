namespace OpenMoE.Runtime.Ptx;

/// <summary>Which per-SM resource runs out first (on a tie, the earlier one in this list).</summary>
public enum OccupancyLimiter
{
    /// <summary>The SM's warp slots are full.</summary>
    Warps,
    /// <summary>The SM's block slots are full (small blocks).</summary>
    Blocks,
    /// <summary>The register file is exhausted.</summary>
    Registers,
    /// <summary>Shared memory is exhausted.</summary>
    SharedMemory,
}

/// <summary>Theoretical occupancy: resident blocks and warps per SM, and warps as a fraction of the SM's maximum.</summary>
public sealed record Occupancy(int BlocksPerSm, int WarpsPerSm, double Fraction, OccupancyLimiter LimitedBy)
{
    /// <summary>
    /// Resident blocks per SM for a kernel using <paramref name="registersPerThread"/> registers and
    /// <paramref name="sharedMemoryPerBlock"/> bytes of shared memory, launched with
    /// <paramref name="threadsPerBlock"/> threads per block: the minimum over warp slots, block
    /// slots, the register file (allocated per warp, rounded up to the allocation unit) and shared
    /// memory (per block, plus the runtime's reserve, rounded up to the allocation unit). Zero when
    /// the kernel cannot launch at all. Achieved occupancy on a GPU can only be lower.
    /// </summary>
    public static Occupancy Theoretical(SmLimits sm, int threadsPerBlock, int registersPerThread, int sharedMemoryPerBlock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadsPerBlock, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(registersPerThread);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedMemoryPerBlock);
        int warpsPerBlock = CeilDiv(threadsPerBlock, SmLimits.WarpSize);

        int byWarps = sm.MaxWarpsPerSm / warpsPerBlock;
        int byBlocks = sm.MaxBlocksPerSm;
        int byRegisters = registersPerThread > sm.MaxRegistersPerThread ? 0
            : registersPerThread == 0 ? int.MaxValue
            : sm.RegistersPerSm / RoundUp(registersPerThread * SmLimits.WarpSize, sm.RegisterAllocationUnit) / warpsPerBlock;
        int bySharedMemory = sharedMemoryPerBlock > sm.MaxSharedMemoryPerBlock ? 0
            : sm.SharedMemoryPerSm / RoundUp(sharedMemoryPerBlock + sm.ReservedSharedMemoryPerBlock, sm.SharedMemoryAllocationUnit);

        (int Blocks, OccupancyLimiter Limiter)[] limits =
            [(byWarps, OccupancyLimiter.Warps), (byBlocks, OccupancyLimiter.Blocks), (byRegisters, OccupancyLimiter.Registers), (bySharedMemory, OccupancyLimiter.SharedMemory)];
        var binding = limits[0];
        foreach (var limit in limits)
            if (limit.Blocks < binding.Blocks)
                binding = limit;
        int warps = binding.Blocks * warpsPerBlock;
        return new Occupancy(binding.Blocks, warps, (double)warps / sm.MaxWarpsPerSm, binding.Limiter);
    }

    private static int CeilDiv(int value, int divisor) => (value + divisor - 1) / divisor;

    private static int RoundUp(int value, int unit) => CeilDiv(value, unit) * unit;
}
