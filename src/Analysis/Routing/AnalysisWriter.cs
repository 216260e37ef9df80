namespace OpenMoE.Analysis;

/// <summary>Writes a report as <c>analysis.json</c>, PNG plots and <c>report.md</c> into one folder.</summary>
public static class AnalysisWriter
{
    /// <summary>JSON file name.</summary>
    public const string JsonFile = "analysis.json";
    /// <summary>Markdown file name.</summary>
    public const string MarkdownFile = "report.md";

    /// <summary>Writes everything into <paramref name="directory"/> (created if needed); returns the paths written.</summary>
    public static IReadOnlyList<string> Write(AnalysisReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, JsonFile);
        File.WriteAllText(json, AnalysisJson.Serialize(report));
        var plots = AnalysisPlots.Write(report, directory);
        var markdown = Path.Combine(directory, MarkdownFile);
        File.WriteAllText(markdown, AnalysisMarkdown.Render(report, plots, plotPrefix: ""));
        return [json, markdown, .. plots.Values.Select(file => Path.Combine(directory, file))];
    }
}
