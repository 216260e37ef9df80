using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace OpenMoE.Training;

/// <summary>
/// RUN/metrics.jsonl: one JSON object per step with loss, lr, aux (load-balance) loss, z-loss,
/// drop ratio per MoE layer and tokens/s. On resume, lines after the checkpoint's step are dropped
/// so the log matches the run that continues. A line is written with one reused UTF-8 writer and
/// buffer, so logging a step allocates nothing.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly FileStream _file;
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly Utf8JsonWriter _json;

    /// <summary>Opens RUN/metrics.jsonl, keeping only lines with step &lt;= <paramref name="keepThroughStep"/> (0: start fresh).</summary>
    public MetricsLog(string runDirectory, long keepThroughStep)
    {
        Directory.CreateDirectory(runDirectory);
        Path = System.IO.Path.Combine(runDirectory, "metrics.jsonl");
        var kept = File.Exists(Path) && keepThroughStep > 0
            ? File.ReadAllLines(Path).Where(line => StepOf(line) <= keepThroughStep).ToArray()
            : [];
        File.WriteAllLines(Path, kept);
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _json = new Utf8JsonWriter(_line);
    }

    /// <summary>Path of the log.</summary>
    public string Path { get; }

    /// <summary>Appends one step (flushed to the file at once).</summary>
    public void Write(in StepReport report)
    {
        _line.ResetWrittenCount();
        _json.Reset(_line);
        _json.WriteStartObject();
        _json.WriteNumber("step"u8, report.Step);
        Number("loss"u8, report.Loss);
        Number("ce"u8, report.CrossEntropy);
        Number("lr"u8, report.LearningRate);
        Number("aux_loss"u8, report.LoadBalancing);
        Number("z_loss"u8, report.ZLoss);
        Number("grad_norm"u8, report.GradientNorm);
        _json.WriteStartObject("drop_ratio"u8);
        Span<char> layer = stackalloc char[11];
        foreach (var moe in report.MoeLayers)
        {
            moe.Layer.TryFormat(layer, out int length, provider: CultureInfo.InvariantCulture);
            Number(layer[..length], moe.DropRatio);
        }
        _json.WriteEndObject();
        Number("tokens_per_s"u8, report.TokensPerSecond);
        if (report.Ranks is { } ranks)
        {
            // Parallel runs: each rank's tokens and what it sent to other ranks' experts in this step.
            _json.WriteStartArray("ranks"u8);
            foreach (var rank in ranks)
            {
                _json.WriteStartObject();
                _json.WriteNumber("rank"u8, rank.Rank);
                _json.WriteNumber("tokens"u8, rank.Tokens);
                _json.WriteNumber("rows_sent"u8, rank.RowsSent);
                _json.WriteNumber("bytes_sent"u8, rank.BytesSent);
                _json.WriteEndObject();
            }
            _json.WriteEndArray();
        }
        _json.WriteEndObject();
        _json.Flush();
        _file.Write(_line.WrittenSpan);
        _file.Write(NewLine);
        _file.Flush();
    }

    /// <summary>A number, or null when it is not finite (JSON has no NaN).</summary>
    private void Number(ReadOnlySpan<byte> name, double value)
    {
        _json.WritePropertyName(name);
        WriteValue(value);
    }

    private void Number(ReadOnlySpan<char> name, double value)
    {
        _json.WritePropertyName(name);
        WriteValue(value);
    }

    private void WriteValue(double value)
    {
        if (double.IsFinite(value))
            _json.WriteNumberValue(value);
        else
            _json.WriteNullValue();
    }

    private static long StepOf(string line)
    {
        int start = line.IndexOf("\"step\":", StringComparison.Ordinal) + 7;
        int end = line.IndexOf(',', start);
        return start < 7 || end < 0 ? long.MaxValue : long.Parse(line.AsSpan(start, end - start), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _json.Dispose();
        _file.Dispose();
    }
}
