using System.Diagnostics.CodeAnalysis;
using OpenMoE.Model.Network;

namespace OpenMoE.Training;

/// <summary>
/// Tensors by name whose values are read (downloaded from the device) only when asked for, one at a
/// time: a checkpoint save walks them tensor by tensor, so it never holds more than one on the host
/// (a whole-model copy would double the training peak: 9 GiB for OpenMoE-Base/16E with AdamW).
/// Each read returns the tensor's current values; <see cref="Stream"/> hands them over in pieces
/// without a whole-tensor array at all.
/// </summary>
/// <param name="tensors">Names and element counts, in order.</param>
/// <param name="read">A host array with a tensor's current values.</param>
/// <param name="stream">Its values in pieces, in order, into a sink.</param>
public sealed class TensorReads(IReadOnlyList<(string Name, long Elements)> tensors, Func<string, float[]> read, Action<string, TensorChunkSink> stream)
    : IReadOnlyDictionary<string, float[]>
{
    private readonly Action<string, TensorChunkSink> _stream = stream;
    private readonly Dictionary<string, long> _elements = tensors.ToDictionary(t => t.Name, t => t.Elements, StringComparer.Ordinal);

    /// <summary>Floats per piece of <see cref="Stream"/> from a device (4 MiB).</summary>
    public const int PieceElements = 1 << 20;

    /// <summary>Elements of all tensors together (known without reading any).</summary>
    public long TotalElements => _elements.Values.Sum();

    /// <summary>Elements of all tensors of <paramref name="tensors"/>, reading none when it is a <see cref="TensorReads"/>.</summary>
    public static long ElementsOf(IReadOnlyDictionary<string, float[]> tensors) =>
        tensors is TensorReads reads ? reads.TotalElements : tensors.Values.Sum(v => (long)v.Length);

    /// <summary>Elements of tensor <paramref name="name"/> of <paramref name="tensors"/>, reading none when it is a <see cref="TensorReads"/>.</summary>
    public static long ElementsOf(IReadOnlyDictionary<string, float[]> tensors, string name) =>
        tensors is TensorReads reads ? reads._elements[name] : tensors[name].LongLength;

    /// <summary>
    /// Hands tensor <paramref name="name"/> of <paramref name="tensors"/> to <paramref name="sink"/> in pieces
    /// when it is a <see cref="TensorReads"/>, else as its one array.
    /// </summary>
    public static void Stream(IReadOnlyDictionary<string, float[]> tensors, string name, TensorChunkSink sink)
    {
        if (tensors is TensorReads reads)
            reads._stream(name, sink);
        else
            sink(tensors[name]);
    }

    /// <inheritdoc />
    public float[] this[string key] => _elements.ContainsKey(key) ? read(key) : throw new KeyNotFoundException($"No tensor '{key}'.");

    /// <inheritdoc />
    public IEnumerable<string> Keys => tensors.Select(t => t.Name);

    /// <inheritdoc />
    public IEnumerable<float[]> Values => tensors.Select(t => read(t.Name));

    /// <inheritdoc />
    public int Count => tensors.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => _elements.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out float[] value)
    {
        value = _elements.ContainsKey(key) ? read(key) : null;
        return value is not null;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, float[]>> GetEnumerator() =>
        tensors.Select(t => KeyValuePair.Create(t.Name, read(t.Name))).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
