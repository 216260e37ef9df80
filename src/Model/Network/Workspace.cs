using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// Named scratch buffers on the device, grown on demand and reused across calls, so a steady
/// stream of same-sized forwards allocates nothing.
/// </summary>
public sealed class Workspace(ComputeDevice device) : IDisposable
{
    private readonly Dictionary<string, MemoryBuffer> _buffers = new(StringComparer.Ordinal);
    /// <summary>The length last asked for under each name (updating an existing key allocates nothing).</summary>
    private readonly Dictionary<string, long> _latest = new(StringComparer.Ordinal);

    /// <summary>A view of at least <paramref name="length"/> elements named <paramref name="name"/> (contents undefined).</summary>
    public ArrayView<T> Get<T>(string name, long length) where T : unmanaged
    {
        _latest[name] = length;
        if (_buffers.TryGetValue(name, out var existing) && existing is MemoryBuffer1D<T, Stride1D.Dense> buffer && buffer.Length >= length)
            return buffer.View.SubView(0, length);
        existing?.Dispose();
        var grown = device.Allocate<T>(Math.Max(length, 1), name);
        _buffers[name] = grown;
        return grown.View.SubView(0, length);
    }

    /// <summary>The float buffer named <paramref name="name"/> at the length it was last asked for, if there is one.</summary>
    public bool TryGetLatest(string name, out ArrayView<float> view)
    {
        view = default;
        if (!_buffers.TryGetValue(name, out var buffer) || buffer is not MemoryBuffer1D<float, Stride1D.Dense> floats)
            return false;
        view = floats.View.SubView(0, _latest[name]);
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var buffer in _buffers.Values)
            buffer.Dispose();
        _buffers.Clear();
        _latest.Clear();
    }
}
