using System.Text.Json;
using ScottPlot;

namespace OpenMoE.Analysis;

/// <summary>
/// Draws a run's training curve from RUN/metrics.jsonl: cross-entropy per step (faint) and its
/// moving average, with an optional horizontal reference such as the unigram baseline.
/// </summary>
public static class LossCurvePlot
{
    /// <summary>Writes the PNG to <paramref name="pngPath"/>; returns the number of steps plotted.</summary>
    public static int Write(string metricsPath, string pngPath, double? baseline = null, string? baselineLabel = null, int window = 25)
    {
        var steps = new List<double>();
        var losses = new List<double>();
        foreach (string line in File.ReadLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.GetProperty("ce").ValueKind != JsonValueKind.Number)
                continue;
            steps.Add(root.GetProperty("step").GetDouble());
            losses.Add(root.GetProperty("ce").GetDouble());
        }
        if (steps.Count == 0)
            throw new InvalidDataException($"{metricsPath} has no steps with a finite loss to plot.");

        var plot = new Plot();
        var raw = plot.Add.ScatterLine(steps.ToArray(), losses.ToArray());
        raw.LegendText = "cross-entropy per step";
        raw.Color = Colors.C0.WithAlpha(0.3);
        var smooth = plot.Add.ScatterLine(steps.ToArray(), MovingAverage(losses, window));
        smooth.LegendText = $"moving average ({window} steps)";
        smooth.Color = Colors.C0;
        smooth.LineWidth = 2;
        if (baseline is double value)
        {
            var line = plot.Add.HorizontalLine(value);
            line.LegendText = baselineLabel ?? "baseline";
            line.Color = Colors.C3;
            line.LinePattern = LinePattern.Dashed;
        }
        plot.Title("Training loss");
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(pngPath))!);
        plot.SavePng(pngPath, 900, 500);
        return steps.Count;
    }

    private static double[] MovingAverage(List<double> values, int window)
    {
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window)
                sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
