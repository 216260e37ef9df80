using OpenMoE.Model.Routing.Device;

namespace OpenMoE.Model.Network.Backward;

/// <summary>Routing of one MoE layer kept from the forward for the backward (routing is held fixed). Owns the device buffers.</summary>
internal sealed class MoeLayerState(DeviceTopK topK, DeviceRouting routing, int[] offsets, int groups) : IDisposable
{
    public DeviceTopK TopK { get; } = topK;
    public DeviceRouting Routing { get; } = routing;
    /// <summary>Expert-group row offsets. // [E*G + 1]</summary>
    public int[] Offsets { get; } = offsets;
    public int Groups { get; } = groups;
    public int Kept => Offsets[^1];

    /// <summary>First row and row count of expert <paramref name="expert"/> (all its groups are contiguous).</summary>
    public (int First, int Rows) ExpertRows(int expert)
    {
        int first = Offsets[expert * Groups];
        return (first, Offsets[(expert + 1) * Groups] - first);
    }

    public void Dispose()
    {
        TopK.Dispose();
        Routing.Dispose();
    }
}
