using System.Buffers.Binary;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Model.Checkpointing;

/// <summary>Widens stored little-endian fp32/bf16/fp16 tensor bytes to fp32.</summary>
internal static class TensorDecoding
{
    public static float[] ToFloats(TensorDType dtype, ReadOnlySpan<byte> bytes)
    {
        var values = new float[bytes.Length / dtype.ElementSize()];
        Decode(dtype, bytes, values);
        return values;
    }

    /// <summary>Decodes <paramref name="bytes"/> (whole elements) into <paramref name="values"/>.</summary>
    public static void Decode(TensorDType dtype, ReadOnlySpan<byte> bytes, Span<float> values)
    {
        int size = dtype.ElementSize();
        if (bytes.Length % size != 0 || values.Length < bytes.Length / size)
            throw new ArgumentException($"{bytes.Length} bytes are not whole {dtype} elements, or the destination is too short.");
        for (int i = 0; i < bytes.Length / size; i++)
        {
            var element = bytes.Slice(i * size, size);
            values[i] = dtype switch
            {
                TensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(element),
                TensorDType.BF16 => new OpenMoE.Kernels.BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(element)).ToSingle(),
                TensorDType.F16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(element)),
                _ => throw new InvalidDataException($"Unsupported tensor dtype {dtype}."),
            };
        }
    }
}
