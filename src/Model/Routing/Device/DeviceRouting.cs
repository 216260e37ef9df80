using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Capacity assignment on the device, owned by this object (dispose to free). Shapes and meaning
/// as in <see cref="RoutingResult"/>; <see cref="DispatchOrder"/> is allocated for N*K rows, of
/// which the first <c>ExpertGroupOffsets[E*G]</c> are valid. A training step reuses one instance per
/// MoE layer: <see cref="DeviceRouter.Assign(ArrayView{int}, ArrayView{float}, RoutingOptions, DeviceRouting)"/>
/// overwrites the buffers and the options-dependent values.
/// </summary>
public sealed class DeviceRouting : IDisposable
{
    private RoutingOptions _options = null!;
    private int _tokensPerGroup, _capacity;

    /// <summary>The options used.</summary>
    public required RoutingOptions Options { get => _options; init => _options = value; }
    /// <summary>N.</summary>
    public required int Tokens { get; init; }
    /// <summary>Tokens per routing group.</summary>
    public required int TokensPerGroup { get => _tokensPerGroup; init => _tokensPerGroup = value; }
    /// <summary>Capacity per expert and group.</summary>
    public required int Capacity { get => _capacity; init => _capacity = value; }
    /// <summary>Priority positions per chunk of the capacity pass (any value gives the same result).</summary>
    public required int Chunk { get; init; }
    /// <summary>Slot in the expert's group buffer, -1 = dropped. // [N, K]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> Slot { get; init; }
    /// <summary>Demand before dropping. // [G, E]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> Demand { get; init; }
    /// <summary>Kept per expert. // [G, E]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> KeptCount { get; init; }
    /// <summary>Start of each (expert, group) run in the dispatch list. // [E*G + 1]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> ExpertGroupOffsets { get; init; }
    /// <summary>Kept assignments t*K + r, by expert, group, slot. // [N*K], first total valid</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> DispatchOrder { get; init; }
    /// <summary>Row in the dispatch list, -1 = dropped. // [N, K]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> Row { get; init; }
    /// <summary>Scratch: the order tokens are visited in within their group. // [N]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> VisitOrder { get; init; }
    /// <summary>Scratch: assignments per (group, chunk, expert) of the capacity pass. // [G * chunks * E]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> ChunkCounts { get; init; }

    /// <summary>Whether <see cref="VisitOrder"/> holds the position order (tokens by position in each group), which needs no launch to reuse.</summary>
    internal bool HoldsPositionOrder { get; set; }

    /// <summary>Records the options of the assignment about to be written into these buffers.</summary>
    internal void Reuse(RoutingOptions options, int tokensPerGroup, int capacity)
    {
        _options = options;
        _tokensPerGroup = tokensPerGroup;
        _capacity = capacity;
    }

    /// <summary>Copy back into the reference's record (experts and weights come from the top-k step).</summary>
    public RoutingResult ToHost(int[] experts, float[] weights)
    {
        var offsets = ExpertGroupOffsets.GetAsArray1D();
        return new RoutingResult
        {
            Options = Options,
            Tokens = Tokens,
            TokensPerGroup = TokensPerGroup,
            Capacity = Capacity,
            Expert = experts,
            Weight = weights,
            Slot = Slot.GetAsArray1D(),
            Demand = Demand.GetAsArray1D(),
            KeptCount = KeptCount.GetAsArray1D(),
            ExpertGroupOffsets = offsets,
            DispatchOrder = offsets[^1] == 0 ? [] : DispatchOrder.View.SubView(0, offsets[^1]).GetAsArray1D(),
            Row = Row.GetAsArray1D(),
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Slot.Dispose();
        Demand.Dispose();
        KeptCount.Dispose();
        ExpertGroupOffsets.Dispose();
        DispatchOrder.Dispose();
        Row.Dispose();
        VisitOrder.Dispose();
        ChunkCounts.Dispose();
    }
}
