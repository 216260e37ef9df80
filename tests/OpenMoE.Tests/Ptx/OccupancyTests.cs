using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Tests.Ptx;

/// <summary>Theoretical sm_90 occupancy against cases worked by hand (65536 registers, 256-register warp units, 64 warps, 32 blocks, 228 KB smem).</summary>
public class OccupancyTests
{
    [Theory]
    // 32 regs x 32 lanes = 1024 per warp -> 64 warps -> 8 blocks of 8 warps; ties with the 64 warp slots.
    [InlineData(256, 32, 0, 8, OccupancyLimiter.Warps)]
    // 33 x 32 = 1056, rounded up to 1280 -> 51 warps -> 6 blocks: one register more costs a quarter.
    [InlineData(256, 33, 0, 6, OccupancyLimiter.Registers)]
    // Attention.Causal on sm_90: 40 x 32 = 1280 -> 51 warps -> 6 blocks.
    [InlineData(256, 40, 0, 6, OccupancyLimiter.Registers)]
    // 128 x 32 = 4096 -> 16 warps -> 2 blocks.
    [InlineData(256, 128, 0, 2, OccupancyLimiter.Registers)]
    // 255 x 32 = 8160, rounded to 8192 -> 8 warps -> 1 block.
    [InlineData(256, 255, 0, 1, OccupancyLimiter.Registers)]
    // Over the 255-register cap: cannot launch.
    [InlineData(256, 256, 0, 0, OccupancyLimiter.Registers)]
    // 4096 B + 1024 B reserve = 5120 -> 45 blocks by smem: not the limit.
    [InlineData(256, 16, 4096, 8, OccupancyLimiter.Warps)]
    // 100 KB + 1 KB = 103424 B (808 units of 128) -> 233472 / 103424 = 2 blocks.
    [InlineData(256, 16, 102400, 2, OccupancyLimiter.SharedMemory)]
    // One byte over the 227 KB per block: cannot launch.
    [InlineData(256, 16, 227 * 1024 + 1, 0, OccupancyLimiter.SharedMemory)]
    // One-warp blocks run out of the 32 block slots at half the warps.
    [InlineData(32, 16, 0, 32, OccupancyLimiter.Blocks)]
    // A one-thread block still takes a whole warp.
    [InlineData(1, 16, 0, 32, OccupancyLimiter.Blocks)]
    // 1024 threads = 32 warps; 64 x 32 = 2048 per warp -> 32 warps -> 1 block.
    [InlineData(1024, 64, 0, 1, OccupancyLimiter.Registers)]
    public void Resident_blocks_are_the_tightest_per_sm_limit(int threads, int registers, int sharedMemory, int expectedBlocks, OccupancyLimiter expectedLimiter)
    {
        var occupancy = Occupancy.Theoretical(SmLimits.Sm90, threads, registers, sharedMemory);
        int warpsPerBlock = (threads + 31) / 32;
        Assert.Equal(expectedBlocks, occupancy.BlocksPerSm);
        Assert.Equal(expectedBlocks * warpsPerBlock, occupancy.WarpsPerSm);
        Assert.Equal(expectedBlocks * warpsPerBlock / 64.0, occupancy.Fraction);
        Assert.Equal(expectedLimiter, occupancy.LimitedBy);
    }

    [Fact]
    public void Occupancy_never_grows_with_registers()
    {
        double previous = double.MaxValue;
        for (int registers = 1; registers <= 256; registers++)
        {
            double fraction = Occupancy.Theoretical(SmLimits.Sm90, 256, registers, 0).Fraction;
            Assert.True(fraction <= previous, $"{registers} registers give {fraction}, more than {previous} with one fewer");
            previous = fraction;
        }
    }

    [Fact]
    public void A_parsed_ptxas_report_gives_the_expected_occupancy()
    {
        var attention = Assert.Single(PtxasOutputParser.Parse(PtxasFixtures.AttentionCausalSm80));
        var occupancy = Occupancy.Theoretical(SmLimits.Sm90, 256, attention.Registers, attention.SharedMemoryBytes);
        Assert.Equal(0.75, occupancy.Fraction);
    }
}
