using Google.Protobuf;

namespace OpenMoE.Training.Tokenization;

/// <summary>
/// The few facts of a SentencePiece <c>ModelProto</c> we need before handing it to
/// Microsoft.ML.Tokenizers: piece count, special ids, and the pad piece. Read with a plain
/// protobuf scan (schema: google/sentencepiece src/sentencepiece_model.proto).
/// </summary>
internal sealed record SentencePieceModelHeader(int PieceCount, int UnkId, int BosId, int EosId, int PadId, string PadPiece)
{
    private const int PiecesField = 1, TrainerSpecField = 2;
    private const int UnkIdField = 40, BosIdField = 41, EosIdField = 42, PadIdField = 43;
    private const int BosPieceField = 46, PadPieceField = 48;

    /// <summary>Scans <paramref name="model"/>; defaults follow the proto (unk 0, bos 1, eos 2, pad -1).</summary>
    public static SentencePieceModelHeader Read(byte[] model)
    {
        int pieces = 0, unk = 0, bos = 1, eos = 2, pad = -1;
        var padPiece = "<pad>";
        var input = new CodedInputStream(model);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case PiecesField:
                    pieces++;
                    input.SkipLastField();
                    break;
                case TrainerSpecField:
                    // A message field may occur more than once; protobuf merges the occurrences.
                    var spec = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint inner;
                    while ((inner = spec.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(inner))
                        {
                            case UnkIdField: unk = spec.ReadInt32(); break;
                            case BosIdField: bos = spec.ReadInt32(); break;
                            case EosIdField: eos = spec.ReadInt32(); break;
                            case PadIdField: pad = spec.ReadInt32(); break;
                            case PadPieceField: padPiece = spec.ReadString(); break;
                            default: spec.SkipLastField(); break;
                        }
                    }
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return new SentencePieceModelHeader(pieces, unk, bos, eos, pad, padPiece);
    }

    /// <summary>
    /// T5/umT5 models have no BOS (<c>bos_id = -1</c>), which Microsoft.ML.Tokenizers 2.0.1 cannot
    /// load (it indexes its vocabulary with the BOS id). OpenMoE uses pad as BOS, so we say exactly
    /// that: append a second trainer_spec with <c>bos_id = pad_id</c>, which protobuf merges into the
    /// first. The pieces and their ids are untouched.
    /// </summary>
    public static byte[] WithPadAsBos(byte[] model, SentencePieceModelHeader header)
    {
        var patch = new MemoryStream();
        var output = new CodedOutputStream(patch);
        var spec = new MemoryStream();
        var specOutput = new CodedOutputStream(spec);
        specOutput.WriteTag(BosIdField, WireFormat.WireType.Varint);
        specOutput.WriteInt32(header.PadId);
        specOutput.WriteTag(BosPieceField, WireFormat.WireType.LengthDelimited);
        specOutput.WriteString(header.PadPiece);
        specOutput.Flush();
        output.WriteTag(TrainerSpecField, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(spec.ToArray()));
        output.Flush();
        return [.. model, .. patch.ToArray()];
    }
}
