using System.Diagnostics.CodeAnalysis;
using ILGPU;
using OpenMoE.Model.Network;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Training;

/// <summary>
/// Tensors by name whose values are read (downloaded from the device) only when asked for, one at a
/// time: a checkpoint save walks them tensor by tensor, so it never holds more than one on the host
/// (a whole-model copy would double the training peak: 9 GiB for OpenMoE-Base/16E with AdamW).
/// Each read returns the tensor's current values; <see cref="Stream"/> hands them over in pieces
/// without a whole-tensor array at all.
/// </summary>
/// <param name="tensors">Names and element counts, in order.</param>
/// <param name="stream">A tensor's values in pieces, in order, into a sink.</param>
public sealed class TensorReads(IReadOnlyList<(string Name, long Elements)> tensors, Action<string, TensorChunkSink> stream)
    : IReadOnlyDictionary<string, float[]>
{
    private readonly Dictionary<string, long> _elements = tensors.ToDictionary(t => t.Name, t => t.Elements, StringComparer.Ordinal);

    /// <summary>Floats per piece of <see cref="Stream"/> from a device (4 MiB).</summary>
    public const int PieceElements = 1 << 20;

    /// <summary>
    /// Device views read in pieces through one reused host buffer (at most <see cref="PieceElements"/>),
    /// after the device's queued work is done.
    /// </summary>
    public static TensorReads FromDevice(ComputeDevice device, IReadOnlyList<(string Name, ArrayView<float> View)> tensors)
    {
        var views = tensors.ToDictionary(t => t.Name, t => t.View, StringComparer.Ordinal);
        var scratch = new float[Math.Min(PieceElements, tensors.Select(t => t.View.Length).DefaultIfEmpty(0).Max())];
        return new(tensors.Select(t => (t.Name, t.View.Length)).ToArray(), (name, sink) =>
        {
            device.Synchronize();
            views[name].DownloadInPieces(scratch, span => sink(span));
        });
    }

    /// <summary>Host arrays (a checkpoint read back), each handed over whole.</summary>
    public static TensorReads FromArrays(IReadOnlyDictionary<string, float[]> arrays) =>
        new(arrays.Select(a => (a.Key, a.Value.LongLength)).ToArray(), (name, sink) => sink(arrays[name]));

    /// <summary>Elements of all tensors together (known without reading any).</summary>
    public long TotalElements => _elements.Values.Sum();

    /// <summary>Elements of tensor <paramref name="name"/> (known without reading it).</summary>
    public long ElementsOf(string name) => _elements[name];

    /// <summary>Hands tensor <paramref name="name"/> to <paramref name="sink"/> in pieces, in order.</summary>
    public void Stream(string name, TensorChunkSink sink) => stream(name, sink);

    /// <inheritdoc />
    public float[] this[string key] => _elements.ContainsKey(key) ? Read(key) : throw new KeyNotFoundException($"No tensor '{key}'.");

    /// <inheritdoc />
    public IEnumerable<string> Keys => tensors.Select(t => t.Name);

    /// <inheritdoc />
    public IEnumerable<float[]> Values => tensors.Select(t => Read(t.Name));

    /// <inheritdoc />
    public int Count => tensors.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => _elements.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out float[] value)
    {
        value = _elements.ContainsKey(key) ? Read(key) : null;
        return value is not null;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, float[]>> GetEnumerator() =>
        tensors.Select(t => KeyValuePair.Create(t.Name, Read(t.Name))).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>A new host array with the tensor's values, filled from <see cref="Stream"/>.</summary>
    private float[] Read(string name)
    {
        var values = new float[_elements[name]];
        long filled = 0;
        stream(name, piece =>
        {
            piece.CopyTo(values.AsSpan(checked((int)filled)));
            filled += piece.Length;
        });
        return values;
    }
}
