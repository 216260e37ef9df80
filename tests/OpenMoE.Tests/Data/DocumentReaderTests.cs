using OpenMoE.Training.Data;

namespace OpenMoE.Tests.Data;

public class DocumentReaderTests
{
    [Fact]
    public void Text_files_split_into_paragraph_groups()
    {
        var documents = DocumentReader.ReadText("First line\nsecond line\n\n\n  \nNext paragraph\r\n\r\nLast", "prose", "en");
        Assert.Equal(["First line\nsecond line", "Next paragraph", "Last"], documents.Select(d => d.Text));
        Assert.All(documents, d => Assert.Equal(("prose", "en"), (d.Domain, d.Language)));
    }

    [Fact]
    public void Jsonl_labels_override_the_source_defaults()
    {
        var path = Path.Combine(Path.GetTempPath(), $"omoe-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, "{\"text\":\"a\",\"domain\":\"math\",\"lang\":\"en\"}\n\n{\"text\":\"b\"}\n");
        try
        {
            var documents = DocumentReader.Read(path, "prose", "und");
            Assert.Equal([new Document("a", "math", "en"), new Document("b", "prose", "und")], documents);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_jsonl_line_without_text_names_its_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"omoe-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, "{\"text\":\"a\"}\n{\"body\":\"b\"}\n");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(path, "prose", "en"));
            Assert.Contains(":2:", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class MixtureScheduleTests
{
    [Fact]
    public void Command_line_schedule_parses_into_phases()
    {
        var schedule = MixtureSchedule.Parse("0:code=0.5225,prose=0.4775; 5000:code=0.15,prose=0.85");
        Assert.Equal(2, schedule.Phases.Count);
        Assert.Equal(0.5225, schedule.At(4999).Weights["code"]);
        Assert.Equal(0.85, schedule.At(5000).Weights["prose"]);
    }

    [Theory]
    [InlineData("code=1")]
    [InlineData("0:code")]
    [InlineData("0:code=x")]
    public void Malformed_schedules_are_refused(string text) =>
        Assert.Throws<FormatException>(() => MixtureSchedule.Parse(text));

    [Fact]
    public void Phases_must_start_at_zero_and_increase()
    {
        Assert.Throws<ArgumentException>(() => MixtureSchedule.Parse("5:code=1"));
        Assert.Throws<ArgumentException>(() => MixtureSchedule.Parse("0:code=1;0:code=2"));
        Assert.Throws<ArgumentException>(() => MixtureSchedule.Parse("0:code=0"));
    }
}
