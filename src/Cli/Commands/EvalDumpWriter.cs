using System.Text.Json;
using OpenMoE.Model.Evaluation;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// Streams <c>eval --dump</c> JSON: per sequence, the logits at its last position and, per MoE layer
/// and token, the chosen experts (rank order), their probabilities and whether each was kept.
/// </summary>
internal sealed class EvalDumpWriter : IDisposable
{
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _json;

    public EvalDumpWriter(string path)
    {
        _file = File.Create(path);
        _json = new Utf8JsonWriter(_file, new JsonWriterOptions { Indented = false });
        _json.WriteStartObject();
        _json.WriteStartArray("sequences");
    }

    public void Write(Evaluator.BatchResult batch)
    {
        var forward = batch.Forward;
        for (int b = 0; b < batch.Sequences.Length; b++)
        {
            _json.WriteStartObject();
            _json.WriteStartArray("tokens");
            foreach (int id in batch.Sequences[b])
                _json.WriteNumberValue(id);
            _json.WriteEndArray();
            _json.WriteStartArray("lastLogits");
            foreach (float v in forward.Row(b, forward.Time - 1))
                _json.WriteNumberValue(v);
            _json.WriteEndArray();
            _json.WriteStartArray("moeLayers");
            foreach (var layer in forward.MoeLayers)
            {
                _json.WriteStartObject();
                _json.WriteNumber("layer", layer.Layer);
                _json.WriteStartArray("tokens");
                for (int t = 0; t < forward.Time; t++)
                {
                    int token = b * forward.Time + t;
                    _json.WriteStartObject();
                    WriteRanks("experts", layer.Routing.TopK, r => _json.WriteNumberValue(layer.Routing.ExpertOf(token, r)));
                    WriteRanks("probabilities", layer.Routing.TopK, r => _json.WriteNumberValue(layer.Choices.ChoiceProbabilities[token * layer.Routing.TopK + r]));
                    WriteRanks("kept", layer.Routing.TopK, r => _json.WriteBooleanValue(layer.Routing.IsKept(token, r)));
                    _json.WriteEndObject();
                }
                _json.WriteEndArray();
                _json.WriteEndObject();
            }
            _json.WriteEndArray();
            _json.WriteEndObject();
        }
        _json.Flush();
    }

    private void WriteRanks(string name, int ranks, Action<int> writeRank)
    {
        _json.WriteStartArray(name);
        for (int r = 0; r < ranks; r++)
            writeRank(r);
        _json.WriteEndArray();
    }

    public void Dispose()
    {
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Dispose();
        _file.Dispose();
    }
}
