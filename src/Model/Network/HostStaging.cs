using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// Named pinned host arrays for the small per-step transfers (token ids, targets, the loss),
/// grown on demand and reused, like <see cref="Workspace"/> on the device: a steady stream of
/// same-sized steps allocates nothing.
/// </summary>
internal sealed class HostStaging(ComputeDevice device) : IDisposable
{
    private readonly Dictionary<string, IDisposable> _arrays = new(StringComparer.Ordinal);

    /// <summary>A pinned array of at least <paramref name="length"/> elements named <paramref name="name"/> (contents undefined).</summary>
    public PinnedHostArray<T> Get<T>(string name, long length) where T : unmanaged
    {
        if (_arrays.TryGetValue(name, out var existing) && existing is PinnedHostArray<T> array && array.Array.LongLength >= length)
            return array;
        existing?.Dispose();
        var grown = new PinnedHostArray<T>(device.Accelerator, new T[Math.Max(length, 1)]);
        _arrays[name] = grown;
        return grown;
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="target"/> on the device through the array named <paramref name="name"/>.</summary>
    public void Upload<T>(string name, ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        var staged = Get<T>(name, source.Length);
        source.CopyTo(staged.Array);
        staged.CopyTo(target);
    }

    /// <summary>Waits for the device and returns <paramref name="source"/>'s contents (valid until the name is used again).</summary>
    public ReadOnlySpan<T> Download<T>(string name, ArrayView<T> source) where T : unmanaged
    {
        var staged = Get<T>(name, source.Length);
        staged.CopyFrom(source);
        device.Synchronize();
        return staged.Array.AsSpan(0, (int)source.Length);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var array in _arrays.Values)
            array.Dispose();
        _arrays.Clear();
    }
}
