using OpenMoE.Runtime.Ptx;

namespace OpenMoE.Tests.Ptx;

public class PtxasOutputParserTests
{
    [Fact]
    public void Stack_frame_and_registers_are_read_and_cmem_is_not_taken_for_smem()
    {
        var entry = Assert.Single(PtxasOutputParser.Parse(PtxasFixtures.AttentionCausalSm80));
        Assert.Equal(new PtxasResources("Kernel_Causal", "sm_80", 40, 128, 0, 0, 0), entry);
        Assert.True(entry.UsesLocalMemory);
    }

    [Fact]
    public void Shared_memory_is_read_and_no_stack_means_no_local_memory()
    {
        var entry = Assert.Single(PtxasOutputParser.Parse(PtxasFixtures.GemmSm90));
        Assert.Equal(new PtxasResources("Kernel_Kernel", "sm_90", 28, 0, 0, 0, 2048), entry);
        Assert.False(entry.UsesLocalMemory);
    }

    [Fact]
    public void Spill_stores_and_loads_are_read_past_warnings()
    {
        var entry = Assert.Single(PtxasOutputParser.Parse(PtxasFixtures.QueryBackwardSpillsSm90));
        Assert.Equal(new PtxasResources("Kernel_Query", "sm_90", 24, 56, 72, 168, 0), entry);
    }

    [Fact]
    public void A_callee_s_properties_do_not_overwrite_the_entry_s()
    {
        var entry = Assert.Single(PtxasOutputParser.Parse(PtxasFixtures.EntryThenCalleeSm90));
        Assert.Equal(new PtxasResources("Kernel_Test", "sm_90", 8, 64, 0, 0, 512), entry);
    }

    [Fact]
    public void Several_entries_come_back_in_output_order_each_with_its_own_figures()
    {
        var entries = PtxasOutputParser.Parse(PtxasFixtures.GemmSm90 + "\n" + PtxasFixtures.AttentionCausalSm80);
        Assert.Equal(["Kernel_Kernel", "Kernel_Causal"], entries.Select(e => e.Function));
        Assert.Equal([2048, 0], entries.Select(e => e.SharedMemoryBytes));
        Assert.Equal([0, 128], entries.Select(e => e.StackFrameBytes));
    }

    [Fact]
    public void An_entry_without_its_register_line_is_an_error_not_zero_registers()
    {
        string truncated = string.Join('\n', PtxasFixtures.AttentionCausalSm80.Split('\n').SkipLast(1));
        var error = Assert.Throws<FormatException>(() => PtxasOutputParser.Parse(truncated));
        Assert.Contains("Kernel_Causal", error.Message);
    }

    [Fact]
    public void Rejected_ptx_yields_no_entries()
        => Assert.Empty(PtxasOutputParser.Parse(PtxasFixtures.Rejected));
}
