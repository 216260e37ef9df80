using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenMoE.Model.Specs;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe specs [--json]</c>: every shipped model spec with exact parameter counts.</summary>
public static class SpecsCommand
{
    /// <summary>Builds the <c>specs</c> command.</summary>
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array (exact counts, MoE layer indices) instead of a table." };
        var command = new Command("specs", "List every model spec: layers, experts, exact total and activated parameters, the paper's figures, weight memory.");
        command.Options.Add(json);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(json))
            {
                output.Write(ToJson(ModelSpecs.All));
                output.WriteLine();
            }
            else
            {
                WriteTable(output, ModelSpecs.All);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The JSON array printed by <c>openmoe specs --json</c>.</summary>
    public static string ToJson(IEnumerable<ModelSpecInfo> specs)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (var spec in specs)
            {
                var c = spec.Config;
                json.WriteStartObject();
                json.WriteString("name", spec.Name);
                json.WriteString("specHash", spec.SpecHash);
                json.WriteNumber("totalParams", spec.TotalParams);
                json.WriteNumber("activatedParams", spec.ActivatedParams);
                json.WriteNumber("activatedParamsWithEmbeddings", spec.ActivatedParamsWithEmbeddings);
                json.WriteNumber("layers", c.Layers);
                json.WriteStartArray("moeLayers");
                foreach (var layer in c.MoeLayers)
                {
                    json.WriteNumberValue(layer);
                }
                json.WriteEndArray();
                json.WriteNumber("vocab", c.Vocab);
                json.WriteNumber("hidden", c.Hidden);
                json.WriteNumber("heads", c.Heads);
                json.WriteNumber("kvHeads", c.KvHeads);
                json.WriteNumber("headDim", c.HeadDim);
                json.WriteNumber("ffn", c.Ffn);
                json.WriteNumber("experts", c.Experts);
                json.WriteNumber("topK", c.TopK);
                json.WriteNumber("expertFfn", c.ExpertFfn);
                json.WriteString("sharedExpertKind", c.SharedExpertKind.ToString());
                json.WriteNumber("sharedExperts", c.SharedExperts);
                json.WriteString("capacityRule", c.CapacityRule.ToString());
                json.WriteNumber("fp32Bytes", spec.TotalParams * 4);
                json.WriteNumber("bf16Bytes", spec.TotalParams * 2);
                if (spec.PaperFigures is { } paper)
                {
                    json.WriteStartObject("paper");
                    json.WriteNumber("totalParams", paper.TotalParams);
                    json.WriteNumber("activatedParams", paper.ActivatedParams);
                    json.WriteString("source", paper.Source);
                    json.WriteEndObject();
                }
                else
                {
                    json.WriteNull("paper");
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteTable(TextWriter output, IEnumerable<ModelSpecInfo> specs)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Interactive = InteractionSupport.No,
        });
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected)
        {
            // A pipe or file has no width; keep one row per spec instead of wrapping at 80 columns.
            console.Profile.Width = 200;
        }
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var header in new[] { "Spec", "Layers", "MoE layers", "Experts", "Top-k", "Total", "Activated", "Act. + emb.", "Paper (total / act.)", "fp32", "bf16" })
        {
            table.AddColumn(new TableColumn(header));
        }
        foreach (var spec in specs)
        {
            var c = spec.Config;
            table.AddRow(
                Markup.Escape(spec.Name),
                Text(c.Layers),
                c.MoeLayers.Count == 0 ? "none" : MoeLayerSummary(c.MoeLayers),
                ExpertSummary(c),
                c.MoeLayers.Count == 0 ? "-" : Text(c.TopK),
                Count(spec.TotalParams),
                Count(spec.ActivatedParams),
                Count(spec.ActivatedParamsWithEmbeddings),
                spec.PaperFigures is { } paper ? $"{Count(paper.TotalParams)} / {Count(paper.ActivatedParams)}" : "-",
                Bytes(spec.TotalParams * 4),
                Bytes(spec.TotalParams * 2));
        }
        console.Write(table);
        console.WriteLine("Activated = parameters used per token without the embedding and LM head (the OpenMoE paper's convention); exact counts: openmoe specs --json.");
    }

    private static string MoeLayerSummary(IReadOnlyList<int> layers) => layers.Count <= 4
        ? string.Join(", ", layers.Select(Text))
        : $"{Text(layers[0])}, {Text(layers[1])}, ..., {Text(layers[^1])} ({Text(layers.Count)})";

    private static string ExpertSummary(ModelConfig c) => c.MoeLayers.Count == 0 ? "dense" : c.SharedExpertKind switch
    {
        SharedExpertKind.SequentialExtraFfn => $"{Text(c.Experts)} + {Text(c.SharedExperts)} extra",
        SharedExpertKind.ParallelShared => $"{Text(c.Experts)} + {Text(c.SharedExperts)} shared",
        _ => Text(c.Experts),
    };

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Count(long value) => value switch
    {
        >= 1_000_000_000 => (value / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (value / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (value / 1e3).ToString("0.00", CultureInfo.InvariantCulture) + "K",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / 1024.0).ToString("0.00", CultureInfo.InvariantCulture) + " KiB",
    };
}
