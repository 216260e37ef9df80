using System.Globalization;
using ScottPlot;

namespace OpenMoE.Analysis;

/// <summary>Renders the report's figures as PNG files with ScottPlot 5 (headless, SkiaSharp).</summary>
public static class AnalysisPlots
{
    private const int Width = 900, Height = 520;

    /// <summary>Writes every plot into <paramref name="directory"/>; returns the file names by figure key.</summary>
    public static IReadOnlyDictionary<string, string> Write(AnalysisReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        void Save(string key, Plot plot, int width = Width, int height = Height)
        {
            string file = key + ".png";
            plot.SavePng(Path.Combine(directory, file), width, height);
            files[key] = file;
        }

        Save("specialization_spread", SpreadBars(report.TokenSpecialization));
        Save("controls", ControlsChart(report.Figures), height: 140 + 34 * report.Figures.Count);
        foreach (var layer in report.TokenSpecialization.Where(l => l.Tokens.Count > 0))
            Save($"token_experts_L{layer.Layer}", TokenHeatmap(layer, report.Run.Experts), height: 700);
        foreach (var table in report.LabelSpecialization.Domain.Concat(report.LabelSpecialization.Language).Concat(report.LabelSpecialization.Position))
        {
            if (table.Labels.Count > 0)
                Save($"{table.Kind}_lift_L{table.Layer}", LiftHeatmap(table), height: Math.Max(360, 120 + 22 * table.Labels.Count));
        }
        if (report.EarlyLearning.Available)
        {
            Save("early_agreement", AgreementLines(report.EarlyLearning, report.Run.MoeLayers));
            foreach (var layer in report.Run.MoeLayers)
            {
                var tokens = report.EarlyLearning.ChosenTokens.Where(t => t.Layer == layer).ToArray();
                if (tokens.Length > 0)
                    Save($"chosen_tokens_L{layer}", ChosenTokensHeatmap(tokens, report.Run.Models, report.Run.Experts, layer), height: Math.Max(360, 120 + 22 * tokens.Length * report.Run.Models.Count));
            }
        }
        Save("drop_by_position", DropLines(report.Drops, report.Run.SequenceLength));
        if (report.Upcycling is { Figures.Count: > 0 } upcycling)
            Save("upcycling_contrast", UpcyclingChart(upcycling), height: 140 + 40 * upcycling.Figures.Count);
        if (report.Replay.Count > 0)
            Save("replay_by_position", ReplayLines(report.Replay[0], report.Run.SequenceLength));
        return files;
    }

    private static Plot SpreadBars(IReadOnlyList<TokenSpecializationLayer> layers)
    {
        var plot = new Plot();
        string[] series = ["token id (top-k)", "token id, random routing", "position id (top-k)", "position id, random routing"];
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (int l = 0; l < layers.Count; l++)
        {
            double[] values = [layers[l].TokenSpreadTopK, layers[l].TokenBaseline, layers[l].PositionSpreadTopK, layers[l].PositionBaseline];
            for (int s = 0; s < values.Length; s++)
                bars.Add(new Bar { Position = l * (series.Length + 1) + s, Value = values[s], FillColor = palette.GetColor(s) });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks(
            layers.Select((_, l) => l * (series.Length + 1) + 1.5).ToArray(),
            layers.Select(l => $"layer {l.Layer}").ToArray());
        for (int s = 0; s < series.Length; s++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s], FillColor = palette.GetColor(s) });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(bottom: 0);
        plot.Title("Routing spread per token id vs per position id (1 = always the same experts)");
        plot.YLabel("RMS normalised spread");
        return plot;
    }

    private static Plot TokenHeatmap(TokenSpecializationLayer layer, int experts)
    {
        var rows = layer.Tokens.Take(30).ToArray();
        var cells = new double[rows.Length, experts];
        for (int r = 0; r < rows.Length; r++)
            for (int e = 0; e < experts; e++)
                cells[r, e] = (double)rows[r].TopK[e] / rows[r].TopK.Sum();
        var plot = Heatmap(cells, rows.Select(t => $"{t.Text} (n={t.Count})").ToArray(), experts, "share of the token's assignments");
        plot.Title($"Layer {layer.Layer}: expert distribution of the {rows.Length} most frequent tokens");
        return plot;
    }

    private static Plot LiftHeatmap(LabelShareTable table)
    {
        var cells = new double[table.Labels.Count, table.ExpertShare.Length];
        for (int l = 0; l < table.Labels.Count; l++)
            for (int e = 0; e < table.ExpertShare.Length; e++)
                cells[l, e] = table.Lift[l][e];
        var plot = Heatmap(cells, table.Labels.ToArray(), table.ExpertShare.Length, "share by label / overall share");
        plot.Title($"Layer {table.Layer}: expert use by {table.Kind} relative to overall (1 = no preference)");
        return plot;
    }

    private static Plot ChosenTokensHeatmap(IReadOnlyList<TokenOverTime> tokens, IReadOnlyList<ModelLabel> models, int experts, int layer)
    {
        var labels = new List<string>();
        var rows = new List<double[]>();
        foreach (var token in tokens)
        {
            for (int c = 0; c < token.Distributions.Length; c++)
            {
                labels.Add($"{token.Text} @ {StepText(models[c])}");
                rows.Add(token.Distributions[c]);
            }
        }
        var cells = new double[rows.Count, experts];
        for (int r = 0; r < rows.Count; r++)
            for (int e = 0; e < experts; e++)
                cells[r, e] = rows[r][e];
        var plot = Heatmap(cells, [.. labels], experts, "share of top-1 choices");
        plot.Title($"Layer {layer}: top-1 experts of frequent tokens over training");
        return plot;
    }

    private static Plot AgreementLines(EarlyLearning early, IReadOnlyList<int> layers)
    {
        var plot = new Plot();
        var checkpoints = early.Points.Select(p => p.Checkpoint).Distinct().Order().ToArray();
        bool bySteps = early.Points.All(p => p.Step is not null);
        double X(AgreementPoint p) => bySteps ? p.Step!.Value : p.Checkpoint;
        foreach (var layer in layers)
        {
            var points = early.Points.Where(p => p.Layer == layer).OrderBy(p => p.Checkpoint).ToArray();
            var line = plot.Add.Scatter(points.Select(X).ToArray(), points.Select(p => p.Agreement).ToArray());
            line.LegendText = $"layer {layer}";
            var chance = plot.Add.Scatter(points.Select(X).ToArray(), points.Select(p => p.Chance).ToArray());
            chance.LegendText = $"layer {layer}, chance";
            chance.LinePattern = LinePattern.Dashed;
            chance.Color = line.Color;
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.SetLimitsY(0, 1.05);
        plot.Title("Top-1 agreement with the final checkpoint");
        plot.XLabel(bySteps ? "training step" : "checkpoint");
        plot.YLabel("fraction of tokens");
        return plot;
    }

    private static Plot DropLines(DropAnalysis drops, int sequenceLength)
    {
        var plot = new Plot();
        var starts = Enumerable.Range(0, drops.Buckets).Select(b => (double)PositionBuckets.Start(b, sequenceLength, drops.Buckets)).ToArray();
        foreach (var set in drops.DataSets)
        {
            var line = plot.Add.Scatter(starts, set.MeanByBucket.Select(v => 100 * v).ToArray());
            line.LegendText = $"{set.Name} (mean over MoE layers)";
            line.LineWidth = 2;
        }
        plot.ShowLegend(Alignment.UpperLeft);
        // From zero, so the rise towards the end reads at its true size.
        double highest = drops.DataSets.SelectMany(d => d.MeanByBucket).DefaultIfEmpty(0).Max() * 100;
        plot.Axes.SetLimitsY(0, highest > 0 ? highest * 1.25 : 1);
        plot.Title(drops.Dropless
            ? "Dropless routing: no assignment is ever dropped"
            : string.Create(CultureInfo.InvariantCulture,
                $"Dropped expert assignments by position ({drops.CapacityRule} rule, cf {drops.CapacityFactor}, C = {drops.Capacity} for {drops.TokensPerGroup} tokens)"));
        plot.XLabel("position in the sequence (bucket start)");
        plot.YLabel("dropped assignments (%)");
        return plot;
    }

    // One row per figure: the analysed model and controls (a), (b) as points with their intervals as
    // horizontal lines, offset within the row; (c) uniform as a grey point.
    private static Plot ControlsChart(IReadOnlyList<ControlledFigure> figures) => IntervalRows(
        ["analysed model", "(a) untrained", "(b) context-shuffled"],
        figures.Select(f => (f.Name, new[] { f.Trained, f.Untrained, f.Shuffled }, f.Uniform)).ToArray(),
        "Every figure against its controls (bootstrap 95% intervals)");

    private static Plot UpcyclingChart(UpcyclingComparison comparison) => IntervalRows(
        ["trained from scratch", "upcycled from dense", "(a) untrained"],
        comparison.Figures.Select(f => (f.Name, new Interval?[] { f.Scratch, f.Upcycled, f.ScratchUntrained }, f.Uniform)).ToArray(),
        "From scratch vs upcycled (bootstrap 95% intervals)");

    private static Plot IntervalRows(string[] series, IReadOnlyList<(string Name, Interval?[] Values, double? Uniform)> figures, string title)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int rows = figures.Count;
        for (int s = 0; s < series.Length; s++)
        {
            var color = palette.GetColor(s);
            var shown = figures.Select((f, i) => (Interval: f.Values[s], Row: rows - 1 - i + 0.25 - 0.25 * s))
                .Where(p => p.Interval is not null).ToArray();
            if (shown.Length == 0)
                continue;
            foreach (var (interval, row) in shown)
            {
                var line = plot.Add.Scatter(new[] { interval!.Low, interval.High }, new[] { row, row });
                line.Color = color;
                line.LineWidth = 2;
                line.MarkerSize = 0;
            }
            var points = plot.Add.Scatter(shown.Select(p => p.Interval!.Value).ToArray(), shown.Select(p => p.Row).ToArray());
            points.Color = color;
            points.LineWidth = 0;
            points.MarkerSize = 7;
            points.LegendText = series[s];
        }
        var uniform = figures.Select((f, i) => (f.Uniform, Row: (double)(rows - 1 - i))).Where(p => p.Uniform is not null).ToArray();
        if (uniform.Length > 0)
        {
            var points = plot.Add.Scatter(uniform.Select(p => p.Uniform!.Value).ToArray(), uniform.Select(p => p.Row).ToArray());
            points.Color = ScottPlot.Colors.Gray;
            points.LineWidth = 0;
            points.MarkerSize = 7;
            points.LegendText = "(c) uniform";
        }
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), figures.Select(f => f.Name).ToArray());
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title(title);
        plot.XLabel("value (mean over MoE layers)");
        return plot;
    }

    private static Plot ReplayLines(ReplayDataSet set, int sequenceLength)
    {
        var plot = new Plot();
        int buckets = set.Cases[0].ByBucket.Length;
        var starts = Enumerable.Range(0, buckets).Select(b => (double)PositionBuckets.Start(b, sequenceLength, buckets)).ToArray();
        foreach (var c in set.Cases)
        {
            var line = plot.Add.Scatter(starts, c.ByBucket.Select(v => 100 * v).ToArray());
            line.LegendText = c.CapacityFactor is { } f ? string.Create(CultureInfo.InvariantCulture, $"{c.Policy}, cf {f}") : c.Policy.ToString();
            line.LineWidth = 2;
        }
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title($"Replayed drops by position, {set.Name} ({set.CapacityRule} rule)");
        plot.XLabel("position in the sequence (bucket start)");
        plot.YLabel("dropped assignments (%)");
        return plot;
    }

    private static Plot Heatmap(double[,] cells, string[] rowLabels, int experts, string colorLabel)
    {
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap).Label = colorLabel;
        int rows = cells.GetLength(0);
        // ScottPlot draws row 0 at the top: label from the top down.
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), rowLabels);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, experts).Select(e => (double)e).ToArray(), Enumerable.Range(0, experts).Select(e => e.ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.XLabel("expert");
        return plot;
    }

    private static string StepText(ModelLabel model) => model.Step is long step ? $"step {step}" : model.Label;
}
