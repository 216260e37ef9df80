using System.Globalization;
using System.Text;

namespace OpenMoE.Analysis;

/// <summary>
/// The report as Markdown for a reader who has not read the paper: each section says what is
/// measured and why in plain words, then shows the numbers and the plots.
/// </summary>
public static class AnalysisMarkdown
{
    /// <summary>
    /// Renders <paramref name="report"/>; plots are linked as <paramref name="plotPrefix"/> + file name
    /// (empty when the Markdown sits next to them).
    /// </summary>
    public static string Render(AnalysisReport report, IReadOnlyDictionary<string, string> plots, string plotPrefix) =>
        Invariant.Format(() => RenderText(report, plots, plotPrefix));

    private static string RenderText(AnalysisReport report, IReadOnlyDictionary<string, string> plots, string plotPrefix)
    {
        var md = new MarkdownBuilder(plots, plotPrefix);
        var run = report.Run;
        md.Line($"# Routing analysis of {run.Spec}");
        md.Line();
        md.Line("A mixture-of-experts (MoE) layer sends every token to a few of its expert networks, chosen by a small *router*. " +
                "This report measures how the router decides, and checks three observations of the OpenMoE paper (Xue et al., 2024) on this model.");
        md.Line();
        WriteFindings(md, report.Findings);
        WriteRun(md, run, report.Drops);
        ControlsMarkdown.WriteControls(md, report);
        WriteSpecialization(md, report);
        WriteLabels(md, report.LabelSpecialization);
        WriteEarly(md, report.EarlyLearning, run);
        WriteDrops(md, report.Drops);
        ControlsMarkdown.WriteMeasures(md, report);
        ControlsMarkdown.WriteReplay(md, report);
        WriteDefinitions(md);
        return md.ToString();
    }

    /// <summary>The findings table (shared with the reproduction document).</summary>
    internal static void WriteFindings(MarkdownBuilder md, IReadOnlyList<Finding> findings)
    {
        md.Line("## Findings");
        md.Line();
        md.Line("| finding | verdict | what was measured |");
        md.Line("|---|---|---|");
        foreach (var f in findings)
            md.Line($"| {f.Name} | **{f.Verdict}** | {Escape(f.Summary)} |");
        md.Line();
    }

    private static void WriteRun(MarkdownBuilder md, RunDescription run, DropAnalysis drops)
    {
        md.Line("## What was analysed");
        md.Line();
        md.Line($"- Model: {run.Spec}, {run.Experts} experts, top-{run.TopK} routing, MoE layers {string.Join(", ", run.MoeLayers)}.");
        md.Line($"- Checkpoints (oldest first): {string.Join("; ", run.Models.Select(m => m.Step is long s ? $"{m.Label} (step {s})" : m.Label))}.");
        md.Line($"- Data: `{run.Data}`, {run.Batches} batches of {run.BatchSize} x {run.SequenceLength} tokens per data set (seed {run.Seed}), {run.TextTokens:N0} document tokens on the pre-training mixture; tokenizer {run.Tokenizer}.");
        md.Line($"- Capacity: {drops.CapacityRule} rule, capacity factor {drops.CapacityFactor}, minimum {drops.MinCapacity}, the whole batch of {drops.TokensPerGroup} tokens is one routing group (capacity {drops.Capacity} per expert).");
        md.Line($"- Device: {run.Device}; {run.Seconds:F1} s.");
        md.Line();
    }

    private static void WriteSpecialization(MarkdownBuilder md, AnalysisReport report)
    {
        md.Line("## 1. Does a token go to the same experts wherever it appears?");
        md.Line();
        md.Line("If the router looked mostly at the context, the same token would be sent to different experts in different sentences. " +
                "The paper found the opposite: a token id goes to nearly the same experts everywhere (*context-independent specialization*). " +
                "We measure how concentrated each token id's expert distribution is, compare it with the same measure per position in the sequence, " +
                "and with what purely random routing would give on the same amount of data.");
        md.Line();
        md.Line("| layer | token ids counted | token spread (top-1) | token spread (top-k) | random baseline | position spread (top-1) | position spread (top-k) | random baseline |");
        md.Line("|---|---|---|---|---|---|---|---|");
        foreach (var l in report.TokenSpecialization)
            md.Line($"| {l.Layer} | {l.TokenIds} (seen >= {l.MinCount}x) | {l.TokenSpreadTop1:F3} | {l.TokenSpreadTopK:F3} | {l.TokenBaseline:F3} | {l.PositionSpreadTop1:F3} | {l.PositionSpreadTopK:F3} | {l.PositionBaseline:F3} |");
        md.Line();
        md.Image("specialization_spread", "spread per token id vs per position id");
        foreach (var l in report.TokenSpecialization)
            md.Image($"token_experts_L{l.Layer}", $"expert distribution of frequent tokens, layer {l.Layer}");
        md.Line("Tokens each expert receives most often (share = how much of that token's assignments go to this expert):");
        md.Line();
        foreach (var l in report.TokenSpecialization)
        {
            md.Line($"<details><summary>Layer {l.Layer}</summary>");
            md.Line();
            md.Line("| expert | most frequent tokens (count, share of the token) |");
            md.Line("|---|---|");
            for (int e = 0; e < l.TopTokensPerExpert.Count; e++)
                md.Line($"| {e} | {string.Join(", ", l.TopTokensPerExpert[e].Select(t => $"`{Code(t.Text)}` ({t.Count}, {100 * t.ShareOfToken:F0}%)"))} |");
            md.Line();
            md.Line("</details>");
            md.Line();
        }
    }

    private static void WriteLabels(MarkdownBuilder md, LabelSpecialization labels)
    {
        md.Line("## 2. Do experts prefer some domains, languages or positions?");
        md.Line();
        md.Line("Each heatmap cell is how much more (above 1) or less (below 1) an expert is used on tokens of one label than on all tokens. " +
                "A row of ones means tokens of that label are routed like everything else; the *deviation* column below (total variation distance, " +
                "0 to 1) sums up how differently a label is routed. In the paper, some domains (code in particular) were routed noticeably differently from general text.");
        md.Line();
        foreach (var (kind, tables) in new[] { ("domain", labels.Domain), ("language", labels.Language), ("position", labels.Position) })
        {
            md.Line($"### By {kind}");
            md.Line();
            md.Line("| layer | label | share of tokens | deviation from overall routing | most over-used expert (lift) |");
            md.Line("|---|---|---|---|---|");
            foreach (var t in tables)
            {
                for (int l = 0; l < t.Labels.Count; l++)
                {
                    int best = Array.IndexOf(t.Lift[l], t.Lift[l].Max());
                    md.Line($"| {t.Layer} | {Escape(t.Labels[l])} | {100 * t.LabelShare[l]:F1}% | {t.TotalVariation[l]:F3} | {best} ({t.Lift[l][best]:F2}x) |");
                }
            }
            md.Line();
            foreach (var t in tables)
                md.Image($"{kind}_lift_L{t.Layer}", $"{kind} lift, layer {t.Layer}");
        }
    }

    private static void WriteEarly(MarkdownBuilder md, EarlyLearning early, RunDescription run)
    {
        md.Line("## 3. Is routing learned early in training?");
        md.Line();
        md.Line("The paper found that which expert a token goes to is settled early in training and hardly changes afterwards, " +
                "so the router cannot adapt later when the data changes. We run every checkpoint on the same tokens and count how often " +
                "its first-choice expert equals the final checkpoint's; *chance* is the agreement two unrelated routers with the same expert loads would have.");
        md.Line();
        if (!early.Available)
        {
            md.Line("Only one model was analysed, so there is nothing to compare. Pass `--checkpoints A B C` (checkpoints of one run) to measure this.");
            md.Line();
            return;
        }
        md.Line("*Token ids agreeing* counts token ids instead of occurrences: the share of ids whose most frequent first-choice expert is the final one.");
        md.Line();
        md.Line("| checkpoint | step | layer | tokens agreeing with final | chance | token ids agreeing |");
        md.Line("|---|---|---|---|---|---|");
        foreach (var p in early.Points)
            md.Line($"| {Escape(p.Label)} | {p.Step?.ToString(CultureInfo.InvariantCulture) ?? "?"} | {p.Layer} | {100 * p.Agreement:F1}% | {100 * p.Chance:F1}% | {100 * p.TokenIdAgreement:F1}% |");
        md.Line();
        md.Image("early_agreement", "top-1 agreement with the final checkpoint");
        md.Line("Top-1 experts of the most frequent tokens at each checkpoint:");
        md.Line();
        foreach (var layer in run.MoeLayers)
            md.Image($"chosen_tokens_L{layer}", $"frequent tokens over training, layer {layer}");
    }

    private static void WriteDrops(MarkdownBuilder md, DropAnalysis drops)
    {
        md.Line("## 4. Are tokens late in a sequence dropped more?");
        md.Line();
        md.Line("Each expert has a fixed number of slots (its *capacity*) per batch. OpenMoE fills them with every token's first choice before " +
                "any second choice, in the order tokens appear, so when an expert is full it is the later tokens that are turned away (*dropped*: " +
                "they skip the expert). The paper found this hurts later tokens most, and more on instruction-following data, whose routing differs from the pre-training data's.");
        md.Line();
        if (drops.Dropless)
        {
            md.Line("**This spec is dropless**: every expert can take every token, so nothing is ever dropped and the figures below are all zero.");
            md.Line();
        }
        md.Line($"| data set | tokens | dropped overall | {string.Join(" | ", Enumerable.Range(0, drops.Buckets).Select(b => $"bucket {b}"))} |");
        md.Line($"|---|---|---|{string.Concat(Enumerable.Repeat("---|", drops.Buckets))}");
        foreach (var set in drops.DataSets)
            md.Line($"| {Escape(set.Name)} | {set.TextTokens:N0} | {100 * set.DropRatio:F2}% | {string.Join(" | ", set.MeanByBucket.Select(v => $"{100 * v:F2}%"))} |");
        md.Line();
        md.Line($"Buckets split each sequence into {drops.Buckets} equal parts, bucket 0 first; ratios are averaged over MoE layers ({drops.CapacityRule} capacity rule, factor {drops.CapacityFactor}).");
        md.Line();
        md.Image("drop_by_position", "drop ratio by position");
    }

    private static void WriteDefinitions(MarkdownBuilder md)
    {
        md.Line("## Definitions");
        md.Line();
        md.Line("- **Spread** of a distribution p over E experts (K choices per token): std over experts of p, divided by its maximum sqrt((E-K)/(K E^2)). " +
                "1 = always the same K experts, 0 = perfectly even. Aggregates are root-mean-squares over token ids (or position ids).");
        md.Line("- **Random baseline**: with n occurrences routed uniformly at random, the expected squared spread is exactly 1/n, so the baseline is sqrt(mean 1/n) over the same ids.");
        md.Line("- Only document tokens are counted (not the BOS or padding tokens), and routing is counted before capacity dropping, except in section 4.");
        md.Line("- **Lift** of expert e for label l: P(e | l) / P(e) over top-k assignments. **Deviation**: 0.5 * sum_e |P(e | l) - P(e)|.");
        md.Line();
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Code(string text) => text.Replace("`", "'", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);
}

/// <summary>Runs text formatting under the invariant culture, so numbers read the same on every machine.</summary>
internal static class Invariant
{
    public static string Format(Func<string> render)
    {
        var previous = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            return render();
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }
}

/// <summary>A Markdown text with image links to the plots that exist.</summary>
internal sealed class MarkdownBuilder(IReadOnlyDictionary<string, string> plots, string plotPrefix)
{
    private readonly StringBuilder _text = new();

    public void Line(string text = "") => _text.Append(text).Append('\n');

    /// <summary>Links plot <paramref name="key"/> when it was written.</summary>
    public void Image(string key, string alt)
    {
        if (!plots.TryGetValue(key, out var file))
            return;
        Line($"![{alt}]({plotPrefix}{file})");
        Line();
    }

    public override string ToString() => _text.ToString();
}
