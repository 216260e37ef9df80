using System.Text;

namespace OpenMoE.Tests.Data;

/// <summary>
/// Writes a SentencePiece <c>ModelProto</c> (src/sentencepiece_model.proto) by hand, so the
/// SentencePiece tests need no model file: pieces {1 piece, 2 score, 3 type}, trainer_spec
/// {3 model_type, 4 vocab_size, 35 byte_fallback, 40..43 unk/bos/eos/pad ids},
/// normalizer_spec {1 name, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces}.
/// </summary>
internal sealed class SentencePieceModelBuilder
{
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Byte = 6;

    private readonly List<(string Piece, float Score, int Type)> _pieces = [];

    public int UnkId { get; set; } = 2;
    public int BosId { get; set; } = -1;
    public int EosId { get; set; } = 1;
    public int PadId { get; set; } = 0;

    public SentencePieceModelBuilder Add(string piece, float score, int type = Normal)
    {
        _pieces.Add((piece, score, type));
        return this;
    }

    public int Count => _pieces.Count;

    public byte[] Build()
    {
        var model = new MemoryStream();
        foreach (var (piece, score, type) in _pieces)
        {
            var p = new MemoryStream();
            WriteString(p, 1, piece);
            WriteTag(p, 2, 5);
            p.Write(BitConverter.GetBytes(score));
            WriteVarintField(p, 3, (ulong)type);
            WriteBytes(model, 1, p.ToArray());
        }
        var trainer = new MemoryStream();
        WriteVarintField(trainer, 3, 1); // UNIGRAM
        WriteVarintField(trainer, 4, (ulong)_pieces.Count);
        WriteVarintField(trainer, 40, (ulong)(long)UnkId);
        WriteVarintField(trainer, 41, (ulong)(long)BosId); // negative int32: 10-byte varint, as protobuf does
        WriteVarintField(trainer, 42, (ulong)(long)EosId);
        WriteVarintField(trainer, 43, (ulong)(long)PadId);
        WriteBytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        WriteString(normalizer, 1, "identity");
        WriteVarintField(normalizer, 3, 1);
        WriteVarintField(normalizer, 4, 1);
        WriteVarintField(normalizer, 5, 1);
        WriteBytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    private static void WriteTag(Stream s, int field, int wireType) => WriteVarint(s, (ulong)((field << 3) | wireType));

    private static void WriteVarintField(Stream s, int field, ulong value)
    {
        WriteTag(s, field, 0);
        WriteVarint(s, value);
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    private static void WriteBytes(Stream s, int field, byte[] value)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)value.Length);
        s.Write(value);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }
}
