using System.Text;
using OpenMoE.Training.Data;
using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

/// <summary>The UL2 example in docs/data.md is produced by this test, so the doc cannot drift from the code.</summary>
public class DocumentationExampleTests
{
    private static string Render(ITokenizer tokenizer, IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        foreach (var id in ids)
        {
            text.Append(id == tokenizer.EosId ? "</s>" : tokenizer.Decode([id]));
        }
        return text.ToString();
    }

    public static string Ul2Example()
    {
        var tokenizer = new ByteTokenizer(512);
        var raw = tokenizer.Encode("The quick brown fox jumps over the lazy dog.");
        var denoiser = new SpanCorruption(tokenizer, 3, 0.15, "[NLU] ");
        var example = denoiser.Apply(raw, true, new DataRng(2024));
        var row = new StringBuilder();
        row.Append("denoiser: ").Append(denoiser.Name).Append(", raw tokens: ").Append(raw.Length)
           .Append(", noise tokens: ").Append(SpanCorruption.NoiseTokens(raw.Length, 0.15))
           .Append(", spans: ").Append(SpanCorruption.NoiseSpans(raw.Length, 0.15, 3)).Append('\n');
        row.Append("inputs  (no loss): ").Append(Render(tokenizer, example.Inputs)).Append('\n');
        row.Append("targets (loss)   : ").Append(Render(tokenizer, example.Targets)).Append('\n');
        row.Append("sentinel ids     : ").Append(string.Join(", ", example.Targets.Where(tokenizer.IsSentinel))).Append('\n');
        row.Append("packed row       : <pad as BOS> + ").Append(example.Inputs.Length).Append(" input ids + ")
           .Append(example.Targets.Length).Append(" target ids, then padding to T");
        return row.ToString();
    }

    [Fact]
    public void Data_doc_shows_the_packed_example_this_code_makes()
    {
        var doc = File.ReadAllText(RepositoryFiles.PathOf("docs/data.md")).Replace("\r\n", "\n");
        var expected = Ul2Example();
        Assert.True(doc.Contains(expected, StringComparison.Ordinal), $"docs/data.md must contain:\n{expected}");
    }
}
