using OpenMoE.Analysis;
using OpenMoE.Cli.Commands;
using OpenMoE.Tests.Data;
using Spectre.Console;

namespace OpenMoE.Tests.Analysis;

/// <summary>The from-scratch vs upcycled finding: its verdict rule on hand-made figures, and <c>analyze --upcycled</c> end to end.</summary>
public sealed class UpcyclingContrastTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"openmoe-contrast-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_out))
            Directory.Delete(_out, recursive: true);
    }

    private static Interval Around(double value) => new(value, value - 0.01, value + 0.01);

    private static UpcyclingComparison Comparison(double scratch, double upcycled, double untrained) => new("up/analysis.json", "up",
        [new ContrastFigure(ControlledFigures.TokenSpread, "token-id spread (top-k)", Around(scratch), Around(upcycled), Around(untrained), Around(untrained), 0.2)]);

    [Theory]
    [InlineData(0.9, 0.6, 0.5, Findings.Reproduces)]
    [InlineData(0.9, 0.6, 0.95, Findings.Partly)]            // above the upcycled model, not above untrained routing
    [InlineData(0.9, 0.895, 0.5, Findings.DoesNotReproduce)]  // intervals overlap
    [InlineData(0.6, 0.9, 0.5, Findings.DoesNotReproduce)]    // the upcycled model specialises more
    public void Verdict_follows_the_stated_rule(double scratch, double upcycled, double untrained, string verdict)
    {
        var finding = UpcyclingContrast.Judge(Comparison(scratch, upcycled, untrained));

        Assert.Equal(verdict, finding.Verdict);
        Assert.Equal(UpcyclingContrast.Name, finding.Name);
        Assert.Contains(scratch.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), finding.Summary);
        Assert.Contains(upcycled.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), finding.Summary);
        if (upcycled > scratch)
            Assert.Contains("opposite of the paper's contrast", finding.Summary);
    }

    private (int ExitCode, string Output) Analyze(int seed, string output, string? upcycled = null, string? reproduction = null)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer), Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        var args = new AnalyzeArguments
        {
            InitSeed = seed, Spec = "OpenMoE-Tiny", Data = Path.Combine(RepositoryFiles.Root, "data", "corpus"), Output = output, Device = "cpu",
            Options = new AnalysisOptions { Batches = 1, BatchSize = 4, SequenceLength = 64, MinCount = 4, PositionBuckets = 4 },
            Upcycled = upcycled, Reproduction = reproduction,
        };
        return (CliErrors.Run(() => AnalyzeCommand.Run(args, console, null), writer, verbose: false), writer.ToString());
    }

    [Fact]
    public void Analyze_with_an_upcycled_analysis_adds_the_finding_its_table_and_plot()
    {
        // Two random initialisations stand in for the two trained runs: the plumbing, not the science.
        string upcycled = Path.Combine(_out, "upcycled");
        Assert.Equal(0, Analyze(4, upcycled).ExitCode);
        string scratch = Path.Combine(_out, "scratch");
        string document = Path.Combine(_out, "reproduction.md");
        var (exitCode, output) = Analyze(3, scratch, Path.Combine(upcycled, AnalysisWriter.JsonFile), document);

        Assert.True(exitCode == 0, output);
        var report = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(scratch, AnalysisWriter.JsonFile)));
        Assert.Equal(4, report.Findings.Count);
        Assert.Equal(UpcyclingContrast.Name, report.Findings[^1].Name);
        var other = AnalysisJson.Deserialize(File.ReadAllText(Path.Combine(upcycled, AnalysisWriter.JsonFile)));
        var token = report.Upcycling!.Figures.Single(f => f.Key == ControlledFigures.TokenSpread);
        Assert.Equal(other.Figures.Single(f => f.Key == ControlledFigures.TokenSpread).Trained, token.Upcycled);
        Assert.Equal(report.Figures.Single(f => f.Key == ControlledFigures.TokenSpread).Trained, token.Scratch);
        Assert.True(new FileInfo(Path.Combine(scratch, "upcycling_contrast.png")).Length > 1000);
        var text = File.ReadAllText(document);
        Assert.Contains($"## {UpcyclingContrast.Name}: ", text);
        Assert.Contains("| trained from scratch | upcycled from dense |", text);
        Assert.Contains("](scratch/upcycling_contrast.png)", text);
        Assert.Contains("[its full report](upcycled/report.md)", text);
    }

    [Fact]
    public void A_missing_upcycled_analysis_is_exit_2_before_any_forward_pass()
    {
        var (exitCode, output) = Analyze(3, Path.Combine(_out, "a"), Path.Combine(_out, "nowhere.json"));

        Assert.Equal(2, exitCode);
        Assert.Contains("--upcycled", output);
        Assert.False(Directory.Exists(Path.Combine(_out, "a")));
    }

    [Fact]
    public void A_corrupt_or_truncated_upcycled_analysis_is_exit_2()
    {
        string upcycled = Path.Combine(_out, "upcycled");
        Assert.Equal(0, Analyze(4, upcycled).ExitCode);
        string json = File.ReadAllText(Path.Combine(upcycled, AnalysisWriter.JsonFile));
        string truncated = Path.Combine(_out, "truncated.json"), prose = Path.Combine(_out, "prose.json"), empty = Path.Combine(_out, "empty.json");
        File.WriteAllText(truncated, json[..(json.Length / 2)]);
        File.WriteAllText(prose, "not json at all");
        File.WriteAllText(empty, "{}");
        foreach (var bad in new[] { truncated, prose, empty })
        {
            var (exitCode, output) = Analyze(3, Path.Combine(_out, "x"), bad);
            Assert.True(exitCode == 2, output);
            Assert.Single(output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Contains("--upcycled", output);
        }
    }

    [Fact]
    public void An_upcycled_analysis_of_another_spec_is_exit_2()
    {
        string other = Path.Combine(_out, "other.json");
        string upcycled = Path.Combine(_out, "upcycled");
        Assert.Equal(0, Analyze(4, upcycled).ExitCode);
        File.WriteAllText(other, File.ReadAllText(Path.Combine(upcycled, AnalysisWriter.JsonFile)).Replace("\"spec\": \"OpenMoE-Tiny\"", "\"spec\": \"Mixtral-Tiny\"", StringComparison.Ordinal));

        var (exitCode, output) = Analyze(3, Path.Combine(_out, "x"), other);

        Assert.Equal(2, exitCode);
        Assert.Contains("analyses Mixtral-Tiny", output);
    }
}
