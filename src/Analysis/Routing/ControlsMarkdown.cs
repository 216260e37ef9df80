using System.Globalization;

namespace OpenMoE.Analysis;

/// <summary>
/// The Markdown sections on the controls, the measures beyond the paper and the capacity replay
/// (shared by the report and the reproduction document).
/// </summary>
internal static class ControlsMarkdown
{
    /// <summary>Which controls ran, the verdict rule, and every figure against its controls.</summary>
    public static void WriteControls(MarkdownBuilder md, AnalysisReport report)
    {
        var controls = report.Controls;
        md.Line("## Controls and the verdict rule");
        md.Line();
        md.Line("Every figure below is measured on the analysed model and on three controls:");
        md.Line();
        md.Line($"- **(a) untrained**: {controls.Untrained}, the same architecture with untrained weights, on the same tokens" +
                (controls.UntrainedIsOwnInit ? " (the analysed model's own initialisation: its seed is recorded in the checkpoint or was given with --init-seed)." : " (the run's own seed is not recorded, so this is another initialisation; pass --control-seed to match the run's)."));
        md.Line($"- **(b) context-shuffled**: the analysed model on the same rows with their document tokens permuted within each sequence (seed {controls.ShuffleSeed}), so every token keeps its id and loses its context.");
        md.Line("- **(c) uniform**: what uniformly random routing gives: a closed form, or for the drop rise uniformly random choices of the same tokens replayed through the same capacity (n/a where neither applies).");
        md.Line();
        md.Line($"Brackets are bootstrap 95% intervals: {controls.Replicates} resamples of the {controls.Sequences} sequences (whole sequences, with replacement), value -+ 1.96 bootstrap standard errors.");
        md.Line();
        md.Line($"**Verdict rule.** {controls.Rule}");
        md.Line();
        md.Line("| figure (mean over MoE layers) | analysed model | (a) untrained | (b) context-shuffled | (c) uniform |");
        md.Line("|---|---|---|---|---|");
        foreach (var f in report.Figures)
            md.Line($"| {f.Name} | {I(f.Trained)} | {I(f.Untrained)} | {(f.Shuffled is { } s ? I(s) : "n/a")} | {(f.Uniform is { } u ? u.ToString("F3", CultureInfo.InvariantCulture) : "n/a")} |");
        md.Line();
        md.Line("Each figure is defined in `docs/analysis-measures.md` of the repository; drop figures are shares of the top-k assignments of document tokens.");
        md.Line();
        md.Image("controls", "every figure against its controls");
    }

    /// <summary>The measures beyond the paper, per MoE layer, on the analysed model.</summary>
    public static void WriteMeasures(MarkdownBuilder md, AnalysisReport report)
    {
        md.Line("## Measures beyond the paper");
        md.Line();
        md.Line("Measures other MoE studies use, on the analysed model and the pre-training mixture, per MoE layer (the controls of their means are in the table above).");
        md.Line();
        md.Line("| layer | NMI token id | NMI position | NMI previous token | vocab. spec. input | vocab. spec. predicted | consecutive same top-1 | consecutive shared top-k | margin p10 / median / p90 | load CV | experts < 1/(4E) | busiest / fair |");
        md.Line("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var m in report.Measures)
            md.Line($"| {m.Layer} | {m.NmiTokenId:F3} | {m.NmiPosition:F3} | {m.NmiPreviousToken:F3} | {m.VocabularyInput:F3} | {m.VocabularyPredicted:F3} | {100 * m.ConsecutiveSameTop1:F1}% | {100 * m.ConsecutiveSharedTopK:F1}% | {m.Margin.P10:F3} / {m.Margin.Median:F3} / {m.Margin.P90:F3} | {m.Load.CoefficientOfVariation:F3} | {100 * m.Load.DeadShare:F0}% | {m.Load.MaxOverFair:F2}x |");
        md.Line();
        foreach (var m in report.Measures)
        {
            md.Line($"<details><summary>Layer {m.Layer}: co-activation P(b | a), load shares, margin histogram</summary>");
            md.Line();
            int experts = m.CoActivation.Length;
            md.Line($"| a \\ b | {string.Join(" | ", Enumerable.Range(0, experts))} | load share |");
            md.Line($"|---|{string.Concat(Enumerable.Repeat("---|", experts + 1))}");
            for (int a = 0; a < experts; a++)
                md.Line($"| {a} | {string.Join(" | ", m.CoActivation[a].Select(p => p.ToString("F2", CultureInfo.InvariantCulture)))} | {100 * m.Load.Shares[a]:F1}% |");
            md.Line();
            md.Line($"| margin up to | {string.Join(" | ", m.Margin.BinEdges.Select(e => e.ToString("G", CultureInfo.InvariantCulture)))} |");
            md.Line($"|---|{string.Concat(Enumerable.Repeat("---|", m.Margin.BinEdges.Length))}");
            md.Line($"| share of tokens | {string.Join(" | ", m.Margin.BinShares.Select(v => $"{100 * v:F1}%"))} |");
            md.Line();
            md.Line("</details>");
            md.Line();
        }
        if (report.EarlyLearning.Available)
        {
            md.Line("Router saturation (top-1 agreement and top-k set overlap with the final checkpoint, as OLMoE reports it):");
            md.Line();
            md.Line("| checkpoint | step | layer | top-1 agreement | top-k overlap |");
            md.Line("|---|---|---|---|---|");
            foreach (var p in report.EarlyLearning.Points)
                md.Line($"| {p.Label.Replace("|", "\\|", StringComparison.Ordinal)} | {p.Step?.ToString(CultureInfo.InvariantCulture) ?? "?"} | {p.Layer} | {100 * p.Agreement:F1}% | {100 * p.TopKOverlap:F1}% |");
            md.Line();
        }
    }

    /// <summary>The counterfactual capacity replay (nothing when it was not asked for).</summary>
    public static void WriteReplay(MarkdownBuilder md, AnalysisReport report)
    {
        if (report.Replay.Count == 0)
            return;
        md.Line("## Counterfactual capacity replay");
        md.Line();
        md.Line("The router outputs recorded in the forward passes above, re-assigned to capacity by the routing engine's sequential reference under other " +
                "capacity factors and drop policies: *by position* is OpenMoE's order (every first choice before any second, in token order), *batch-prioritised* " +
                "routing orders (tokens by decreasing top-1 probability), *dropless* has no capacity limit. Each layer keeps the choices it made, so " +
                "this shows which of these decisions a policy would drop, not what the model would then compute.");
        md.Line();
        foreach (var set in report.Replay)
        {
            int buckets = set.Cases.Count == 0 ? 0 : set.Cases[0].ByBucket.Length;
            md.Line($"**{set.Name}** ({set.CapacityRule} capacity rule)");
            md.Line();
            md.Line($"| policy | capacity factor | capacity | dropped overall | {string.Join(" | ", Enumerable.Range(0, buckets).Select(b => $"bucket {b}"))} |");
            md.Line($"|---|---|---|---|{string.Concat(Enumerable.Repeat("---|", buckets))}");
            foreach (var c in set.Cases)
                md.Line($"| {c.Policy} | {(c.CapacityFactor is { } f ? f.ToString("G", CultureInfo.InvariantCulture) : "-")} | {c.Capacity} | {100 * c.DropRatio:F2}% | {string.Join(" | ", c.ByBucket.Select(v => $"{100 * v:F2}%"))} |");
            md.Line();
        }
        md.Image("replay_by_position", "drop ratio by position under each replayed policy");
    }

    private static string I(Interval i) => string.Create(CultureInfo.InvariantCulture, $"{i.Value:F3} [{i.Low:F3}, {i.High:F3}]");
}
