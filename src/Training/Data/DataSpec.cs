using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenMoE.Training.Data;

/// <summary>
/// A data specification file (JSON): sources and a mixture schedule. Paths are relative to the
/// file. Example:
/// <code>
/// { "sources": [ { "name": "code", "path": "code.jsonl", "domain": "code", "lang": "csharp" },
///                { "name": "prose", "path": "brown.txt", "domain": "prose", "lang": "en" } ],
///   "mixture": [ { "fromStep": 0, "weights": { "code": 0.5225, "prose": 0.4775 } },
///                { "fromStep": 5000, "weights": { "code": 0.15, "prose": 0.85 } } ] }
/// </code>
/// Without "mixture", every source has weight 1.
/// </summary>
public sealed record DataSpec(IReadOnlyList<DataSource> Sources, MixtureSchedule Mixture)
{
    /// <summary>File name looked for when the data path is a directory.</summary>
    public const string DefaultFileName = "corpus.json";

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip };

    /// <summary>Loads a spec file, or <c>corpus.json</c> inside a directory.</summary>
    public static DataSpec Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, DefaultFileName) : path;
        if (!File.Exists(file))
        {
            throw new FileNotFoundException($"No data spec at {file}; pass a corpus.json file or a directory containing one (e.g. data/corpus).", file);
        }
        SpecFile? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize<SpecFile>(File.ReadAllText(file), Json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Data spec {file} is not a JSON data spec ({ex.Message}); see docs/data.md for the format, or pass --data data/corpus.", ex);
        }
        var raw = parsed ?? throw new InvalidDataException($"Data spec {file} is empty (null); see docs/data.md for the format.");
        if (raw.Sources is not { Count: > 0 })
        {
            throw new InvalidDataException($"Data spec {file} lists no sources; see docs/data.md for the format.");
        }
        var root = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var sources = raw.Sources.Select(s => new DataSource(
            s.Name,
            DocumentReader.Read(Path.Combine(root, s.Path), s.Domain ?? s.Name, s.Lang ?? "und"))).ToArray();
        var mixture = raw.Mixture is { Count: > 0 }
            ? new MixtureSchedule(raw.Mixture.Select(p => new MixturePhase(p.FromStep, p.Weights)).ToArray())
            : MixtureSchedule.Constant(sources.ToDictionary(s => s.Name, _ => 1.0));
        mixture.Validate(sources);
        return new DataSpec(sources, mixture);
    }

    private sealed record SpecFile(
        [property: JsonPropertyName("sources")] List<SourceEntry>? Sources,
        [property: JsonPropertyName("mixture")] List<PhaseEntry>? Mixture);

    private sealed record SourceEntry(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("path")] string Path,
        [property: JsonPropertyName("domain")] string? Domain,
        [property: JsonPropertyName("lang")] string? Lang);

    private sealed record PhaseEntry(
        [property: JsonPropertyName("fromStep")] long FromStep,
        [property: JsonPropertyName("weights")] Dictionary<string, double> Weights);
}
