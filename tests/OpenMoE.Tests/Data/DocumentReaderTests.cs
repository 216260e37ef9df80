using OpenMoE.Model.Data;

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
