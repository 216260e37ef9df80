namespace OpenMoE.Tests.Reference;

/// <summary>A dense row-major tensor of doubles (the reference model's only storage type).</summary>
public sealed class ReferenceTensor
{
    /// <summary>Creates a zero tensor of the given shape.</summary>
    public ReferenceTensor(int[] shape)
    {
        Shape = (int[])shape.Clone();
        long count = 1;
        foreach (var size in shape)
        {
            if (size <= 0) throw new ArgumentException($"Tensor dimensions must be positive, got [{string.Join(", ", shape)}].");
            count *= size;
        }
        Data = new double[count];
    }

    /// <summary>Dimensions, outermost first.</summary>
    public int[] Shape { get; }

    /// <summary>Row-major values; length is the product of <see cref="Shape"/>.</summary>
    public double[] Data { get; }

    /// <summary>A deep copy.</summary>
    public ReferenceTensor Clone()
    {
        var copy = new ReferenceTensor(Shape);
        Array.Copy(Data, copy.Data, Data.Length);
        return copy;
    }
}
