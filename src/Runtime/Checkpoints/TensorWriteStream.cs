using System.Runtime.InteropServices;

namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// One tensor being written by <see cref="CheckpointWriter.BeginTensor"/>: supply exactly
/// <see cref="TensorDescriptor.ByteLength"/> bytes in pieces, then call <see cref="Complete"/>.
/// </summary>
public sealed class TensorWriteStream
{
    private readonly CheckpointWriter _owner;
    private bool _completed;

    internal TensorWriteStream(CheckpointWriter owner, TensorDescriptor descriptor, TensorEntry entry)
    {
        _owner = owner;
        Descriptor = descriptor;
        Entry = entry;
        Remaining = descriptor.ByteLength;
    }

    /// <summary>The tensor being written.</summary>
    public TensorDescriptor Descriptor { get; }

    /// <summary>Bytes still expected.</summary>
    public long Remaining { get; internal set; }

    internal TensorEntry Entry { get; }

    /// <summary>Appends the next piece of raw little-endian bytes.</summary>
    public void Write(ReadOnlySpan<byte> piece)
    {
        if (_completed) throw new InvalidOperationException($"Tensor '{Descriptor.Name}' is already complete.");
        if (piece.Length > Remaining)
            throw new ArgumentException($"Tensor '{Descriptor.Name}' needs {Descriptor.ByteLength} bytes; {piece.Length - Remaining} too many were supplied.");
        _owner.Append(this, piece);
    }

    // Elements per byte view: a span of bytes holds at most 2 GiB, so larger pieces go in parts.
    private const int ElementsPerPart = 1 << 28;

    /// <summary>Appends the next piece of an F32 tensor (of any length: views above 2 GiB go in parts).</summary>
    public void Write(ReadOnlySpan<float> piece)
    {
        for (; piece.Length > ElementsPerPart; piece = piece[ElementsPerPart..])
            Write(MemoryMarshal.AsBytes(piece[..ElementsPerPart]));
        Write(MemoryMarshal.AsBytes(piece));
    }

    /// <summary>Appends the next piece of a BF16 or F16 tensor as raw 16-bit words (of any length).</summary>
    public void Write(ReadOnlySpan<ushort> piece)
    {
        for (; piece.Length > ElementsPerPart; piece = piece[ElementsPerPart..])
            Write(MemoryMarshal.AsBytes(piece[..ElementsPerPart]));
        Write(MemoryMarshal.AsBytes(piece));
    }

    /// <summary>Ends the tensor; throws when fewer bytes than its shape needs were written.</summary>
    public void Complete()
    {
        if (_completed) return;
        if (Remaining != 0)
            throw new InvalidOperationException($"Tensor '{Descriptor.Name}' is missing {Remaining} of its {Descriptor.ByteLength} bytes.");
        _completed = true;
        _owner.Completed(this);
    }
}
