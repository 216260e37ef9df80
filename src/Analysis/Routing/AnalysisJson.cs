using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenMoE.Analysis;

/// <summary>The report as JSON (camelCase, indented); every figure of the run is in it.</summary>
public static class AnalysisJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Serialises <paramref name="report"/>.</summary>
    public static string Serialize(AnalysisReport report) => JsonSerializer.Serialize(report, Options);

    /// <summary>Reads a report written by <see cref="Serialize"/>.</summary>
    public static AnalysisReport Deserialize(string json) =>
        JsonSerializer.Deserialize<AnalysisReport>(json, Options) ?? throw new InvalidDataException("The analysis JSON is empty.");
}
