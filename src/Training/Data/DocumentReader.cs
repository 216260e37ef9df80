using System.Text;
using System.Text.Json;

namespace OpenMoE.Training.Data;

/// <summary>
/// Reads documents from disk. Plain text: one document per paragraph group (blocks separated by
/// one or more blank lines), so a long book becomes many documents that the mixture can
/// interleave. JSONL: one JSON object per line, <c>{"text": ..., "domain": ..., "lang": ...}</c>;
/// missing labels fall back to the source's.
/// </summary>
public static class DocumentReader
{
    /// <summary>Reads <paramref name="path"/> as JSONL if it ends in .jsonl, as plain text otherwise.</summary>
    public static IReadOnlyList<Document> Read(string path, string domain, string language) =>
        path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? ReadJsonl(path, domain, language)
            : ReadText(File.ReadAllText(path), domain, language);

    /// <summary>Splits <paramref name="text"/> into paragraph groups (blank-line separated, trimmed, empty ones dropped).</summary>
    public static IReadOnlyList<Document> ReadText(string text, string domain, string language)
    {
        var documents = new List<Document>();
        var current = new StringBuilder();
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                Emit(current, documents, domain, language);
                continue;
            }
            if (current.Length > 0)
            {
                current.Append('\n');
            }
            current.Append(line.TrimEnd());
        }
        Emit(current, documents, domain, language);
        return documents;
    }

    /// <summary>Reads a JSONL file; lines that are empty are skipped, a line without "text" is an error.</summary>
    public static IReadOnlyList<Document> ReadJsonl(string path, string domain, string language)
    {
        var documents = new List<Document>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Trim().Length == 0)
            {
                continue;
            }
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: each JSONL line needs a string \"text\" field.");
            }
            documents.Add(new Document(
                text.GetString()!,
                StringOr(root, "domain", domain),
                StringOr(root, "lang", language)));
        }
        return documents;
    }

    private static string StringOr(JsonElement root, string name, string fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : fallback;

    private static void Emit(StringBuilder current, List<Document> documents, string domain, string language)
    {
        if (current.Length > 0)
        {
            documents.Add(new Document(current.ToString(), domain, language));
            current.Clear();
        }
    }
}
