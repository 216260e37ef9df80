using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// Keys and values of every layer for incremental decoding. // per layer k, v [B, S, KvH, hd]
/// <see cref="Length"/> positions are filled; a forward at <c>Length</c> appends its T positions.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _keys;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _values;

    /// <summary>Allocates room for <paramref name="capacity"/> positions of <paramref name="batch"/> sequences.</summary>
    public KvCache(ComputeDevice device, int layers, int batch, int capacity, int kvHeads, int headDim)
    {
        Batch = batch;
        Capacity = capacity;
        RowWidth = kvHeads * headDim;
        long size = (long)batch * capacity * RowWidth;
        _keys = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
        _values = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = device.Allocate<float>(size, $"L{l}.kv_cache.k");
            _values[l] = device.Allocate<float>(size, $"L{l}.kv_cache.v");
        }
    }

    /// <summary>B.</summary>
    public int Batch { get; }
    /// <summary>S, the most positions the cache holds.</summary>
    public int Capacity { get; }
    /// <summary>KvH * hd.</summary>
    public int RowWidth { get; }
    /// <summary>Positions filled so far.</summary>
    public int Length { get; private set; }

    /// <summary>Keys of <paramref name="layer"/>. // [B, S, KvH, hd]</summary>
    public ArrayView<float> Keys(int layer) => _keys[layer].View;
    /// <summary>Values of <paramref name="layer"/>. // [B, S, KvH, hd]</summary>
    public ArrayView<float> Values(int layer) => _values[layer].View;

    /// <summary>Copies k, v [B, T, KvH*hd] of <paramref name="layer"/> into positions [Length, Length + T).</summary>
    public void Write(int layer, ArrayView<float> k, ArrayView<float> v, int time)
    {
        if (Length + time > Capacity)
            throw new InvalidOperationException(
                $"The KV cache holds {Capacity} positions; {Length} are used and {time} more were asked for. " +
                "Generate fewer tokens or use a shorter prompt.");
        long block = (long)time * RowWidth;
        for (int b = 0; b < Batch; b++)
        {
            long target = ((long)b * Capacity + Length) * RowWidth;
            k.SubView(b * block, block).AsDense().CopyTo(_keys[layer].View.SubView(target, block));
            v.SubView(b * block, block).AsDense().CopyTo(_values[layer].View.SubView(target, block));
        }
    }

    /// <summary>Marks <paramref name="time"/> more positions as filled (after every layer wrote them).</summary>
    public void Advance(int time) => Length += time;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var buffer in _keys.Concat(_values))
            buffer.Dispose();
    }
}
