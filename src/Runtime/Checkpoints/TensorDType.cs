namespace OpenMoE.Runtime.Checkpoints;

/// <summary>Element type of a stored tensor. Values are part of the on-disk format: never renumber.</summary>
public enum TensorDType
{
    /// <summary>IEEE 754 binary32, little-endian.</summary>
    F32 = 1,
    /// <summary>bfloat16 (upper half of a binary32), little-endian, held as <see cref="ushort"/> in memory.</summary>
    BF16 = 2,
    /// <summary>IEEE 754 binary16, little-endian.</summary>
    F16 = 3,
}

/// <summary>Sizes and names of <see cref="TensorDType"/> values.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => 4,
        TensorDType.BF16 => 2,
        TensorDType.F16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown tensor dtype."),
    };

    /// <summary>True for the values this build can read and write.</summary>
    public static bool IsDefined(TensorDType dtype) => dtype is TensorDType.F32 or TensorDType.BF16 or TensorDType.F16;

    /// <summary>The safetensors spelling ("F32", "BF16", "F16").</summary>
    public static string Name(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => "F32",
        TensorDType.BF16 => "BF16",
        TensorDType.F16 => "F16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown tensor dtype."),
    };

    /// <summary>Parses the safetensors spelling; false for any dtype this build does not support.</summary>
    public static bool TryParse(string? name, out TensorDType dtype)
    {
        dtype = name switch
        {
            "F32" => TensorDType.F32,
            "BF16" => TensorDType.BF16,
            "F16" => TensorDType.F16,
            _ => 0,
        };
        return dtype != 0;
    }
}
