using System.Buffers.Binary;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Model.Checkpointing;

/// <summary>Widens stored little-endian fp32/bf16/fp16 tensor bytes to fp32.</summary>
internal static class TensorDecoding
{
    public static float[] ToFloats(TensorDType dtype, ReadOnlySpan<byte> bytes)
    {
        int size = dtype.ElementSize();
        var values = new float[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            var element = bytes.Slice(i * size, size);
            values[i] = dtype switch
            {
                TensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(element),
                TensorDType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(element) << 16),
                TensorDType.F16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(element)),
                _ => throw new InvalidDataException($"Unsupported tensor dtype {dtype}."),
            };
        }
        return values;
    }
}
