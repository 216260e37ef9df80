namespace OpenMoE.Runtime.Checkpoints;

/// <summary>
/// Name, element type and shape of one stored tensor: everything the format layer needs to
/// know about a parameter, with no dependency on the model.
/// </summary>
public sealed class TensorDescriptor : IEquatable<TensorDescriptor>
{
    /// <summary>Most dimensions a stored tensor may have; bounds what a damaged file can ask for.</summary>
    public const int MaxRank = 8;

    /// <summary>Creates a descriptor; shape dimensions must be non-negative.</summary>
    public TensorDescriptor(string name, TensorDType dtype, IReadOnlyList<long> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!TensorDTypes.IsDefined(dtype)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown tensor dtype.");
        if (shape.Count > MaxRank) throw new ArgumentException($"Tensor '{name}' has rank {shape.Count}; at most {MaxRank} is supported.", nameof(shape));
        foreach (var dim in shape)
            if (dim < 0) throw new ArgumentException($"Tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}].", nameof(shape));
        Name = name;
        DType = dtype;
        Shape = shape.ToArray();
        ElementCount = CheckedProduct(shape) ?? throw new ArgumentException($"Tensor '{name}' shape [{string.Join(", ", shape)}] overflows.", nameof(shape));
        ByteLength = checked(ElementCount * dtype.ElementSize());
    }

    /// <summary>Creates a descriptor from an int shape.</summary>
    public TensorDescriptor(string name, TensorDType dtype, params int[] shape)
        : this(name, dtype, shape.Select(d => (long)d).ToArray())
    {
    }

    /// <summary>Parameter name (for model weights, the Hugging Face name, DESIGN §2.6).</summary>
    public string Name { get; }

    /// <summary>Element type on disk.</summary>
    public TensorDType DType { get; }

    /// <summary>Dimensions, outermost first (row-major).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary><see cref="ElementCount"/> times the element size.</summary>
    public long ByteLength { get; }

    /// <summary>Shape as "[a, b, c]".</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";

    /// <summary>Product of dims, or null when it does not fit a long (a damaged or hostile file).</summary>
    public static long? CheckedProduct(IReadOnlyList<long> shape)
    {
        long product = 1;
        foreach (var dim in shape)
        {
            if (dim < 0) return null;
            if (dim != 0 && product > long.MaxValue / 8 / dim) return null;
            product *= dim;
        }
        return product;
    }

    /// <inheritdoc />
    public bool Equals(TensorDescriptor? other) =>
        other is not null && Name == other.Name && DType == other.DType && Shape.SequenceEqual(other.Shape);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as TensorDescriptor);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, DType, Shape.Count);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DType.Name()} {ShapeText}";
}
