using System.Text.RegularExpressions;
using OpenMoE.Training.Data;
using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

public class BundledCorpusTests
{
    private static readonly Lazy<DataSpec> Corpus = new(() => DataSpec.Load(RepositoryFiles.PathOf("data/corpus")));

    private static IEnumerable<Document> All => Corpus.Value.Sources.SelectMany(s => s.Documents);

    [Fact]
    public void Corpus_has_every_domain_and_at_least_four_natural_languages()
    {
        Assert.Equal(["code", "instruction", "math", "multilingual", "prose"], All.Select(d => d.Domain).Distinct().Order(StringComparer.Ordinal));
        var languages = All.Where(d => d.Domain == "multilingual").Select(d => d.Language).Distinct().ToArray();
        Assert.Superset(new HashSet<string> { "en", "fr", "es", "ru", "zh", "ar", "hi", "ja" }, languages.ToHashSet());
        var bytes = new FileInfo(RepositoryFiles.PathOf("data/corpus/prose.jsonl")).Length
                    + new FileInfo(RepositoryFiles.PathOf("data/corpus/multilingual.jsonl")).Length;
        Assert.InRange(bytes, 200_000, 2_000_000);
    }

    [Fact]
    public void Brown_prose_has_no_part_of_speech_tags_left()
    {
        var prose = All.Where(d => d.Domain == "prose").ToArray();
        Assert.NotEmpty(prose);
        // Tags looked like "The/at", "jury/nn", ",/,"; none may survive.
        var tag = new Regex(@"\S/(at|nn|in|jj|vbd|np|nns|cc|,|\.)\b");
        Assert.DoesNotContain(prose, d => tag.IsMatch(d.Text));
        Assert.DoesNotContain(prose, d => d.Text.Contains(" ,", StringComparison.Ordinal) || d.Text.Contains("``", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_generated_math_answer_is_correct()
    {
        var checkedCount = 0;
        var equation = new Regex(@"^(\d+) ([-+*]) (\d+)(?: ([-+]) (\d+))? = (\d+)\.", RegexOptions.Multiline);
        foreach (var doc in All.Where(d => d.Domain == "math"))
        {
            foreach (Match m in equation.Matches(doc.Text))
            {
                long a = long.Parse(m.Groups[1].Value), b = long.Parse(m.Groups[3].Value);
                var value = m.Groups[2].Value switch { "+" => a + b, "-" => a - b, _ => a * b };
                if (m.Groups[4].Success)
                {
                    var c = long.Parse(m.Groups[5].Value);
                    value = m.Groups[4].Value == "+" ? value + c : value - c;
                }
                Assert.Equal(value, long.Parse(m.Groups[6].Value));
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 500, $"only {checkedCount} equations found");
    }

    [Fact]
    public void Default_mixture_trains_on_every_domain_but_instruction()
    {
        var spec = Corpus.Value;
        var pipeline = new DataPipeline(spec.Sources, spec.Mixture, ObjectiveSchedule.Parse("ul2", new ByteTokenizer(512), 0),
            new ByteTokenizer(512), 512, seed: 1);
        var batch = pipeline.NextBatch(32, 0);
        var sources = batch.Examples.Select(e => e.Source).ToHashSet();
        Assert.Superset(sources, new HashSet<string> { "prose", "multilingual", "code", "math" });
        Assert.DoesNotContain("instruction", sources);
    }
}
