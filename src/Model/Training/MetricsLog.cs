using System.Globalization;
using System.Text;

namespace OpenMoE.Model.Training;

/// <summary>
/// RUN/metrics.jsonl: one JSON object per step with loss, lr, aux (load-balance) loss, z-loss,
/// drop ratio per MoE layer and tokens/s. On resume, lines after the checkpoint's step are dropped
/// so the log matches the run that continues.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    /// <summary>Opens RUN/metrics.jsonl, keeping only lines with step &lt;= <paramref name="keepThroughStep"/> (0: start fresh).</summary>
    public MetricsLog(string runDirectory, long keepThroughStep)
    {
        Directory.CreateDirectory(runDirectory);
        Path = System.IO.Path.Combine(runDirectory, "metrics.jsonl");
        var kept = File.Exists(Path) && keepThroughStep > 0
            ? File.ReadAllLines(Path).Where(line => StepOf(line) <= keepThroughStep).ToArray()
            : [];
        File.WriteAllLines(Path, kept);
        _writer = new StreamWriter(Path, append: true) { AutoFlush = true };
    }

    /// <summary>Path of the log.</summary>
    public string Path { get; }

    /// <summary>Appends one step.</summary>
    public void Write(StepReport report)
    {
        var line = new StringBuilder(256);
        line.Append(CultureInfo.InvariantCulture, $"{{\"step\":{report.Step},\"loss\":{R(report.Loss)},\"ce\":{R(report.CrossEntropy)},\"lr\":{R(report.LearningRate)}");
        line.Append(CultureInfo.InvariantCulture, $",\"aux_loss\":{R(report.LoadBalancing)},\"z_loss\":{R(report.ZLoss)},\"grad_norm\":{R(report.GradientNorm)}");
        line.Append(",\"drop_ratio\":{");
        line.AppendJoin(',', report.MoeLayers.Select(l => string.Create(CultureInfo.InvariantCulture, $"\"{l.Layer}\":{R(l.DropRatio)}")));
        line.Append(CultureInfo.InvariantCulture, $"}},\"tokens_per_s\":{R(report.TokensPerSecond)}}}");
        _writer.WriteLine(line.ToString());
    }

    private static string R(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null";

    private static long StepOf(string line)
    {
        int start = line.IndexOf("\"step\":", StringComparison.Ordinal) + 7;
        int end = line.IndexOf(',', start);
        return start < 7 || end < 0 ? long.MaxValue : long.Parse(line.AsSpan(start, end - start), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();
}
