using System.CommandLine;
using System.Globalization;
using OpenMoE.Runtime.Checkpoints;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe checkpoint info PATH</c>: spec, step, training state, tensors, sizes, checksum verdict.</summary>
public static class CheckpointInfoCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "Checkpoint folder, run folder, or RUN/latest." };
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip reading every byte to verify checksums." };
        var command = new Command("info", "Show what a checkpoint holds and verify its checksums.") { path, noVerify };
        command.SetAction(parseResult => Run(parseResult, parseResult.GetValue(path)!, parseResult.GetValue(noVerify)));
        return command;
    }

    private static int Run(ParseResult parseResult, string path, bool noVerify)
    {
        var console = CliConsole.Out(parseResult);
        using var reader = CheckpointReader.Open(CheckpointRun.Resolve(path));
        Describe(console, reader);
        if (noVerify)
        {
            console.MarkupLine("Checksums: [yellow]not verified[/] (--no-verify)");
            return 0;
        }
        CheckpointCommand.WithProgress(console, "Verifying checksums", reader.Manifest.Shards.Sum(s => s.Length), reader.VerifyChecksums);
        console.MarkupLine($"Checksums: [green]verified[/] ({reader.Manifest.Tensors.Sum(t => t.Chunks.Count)} chunks, {reader.Manifest.Shards.Count} shards)");
        return 0;
    }

    private static void Describe(IAnsiConsole console, CheckpointReader reader)
    {
        var m = reader.Manifest;
        var summary = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => summary.AddRow(new Text(key), new Text(value));
        Row("Checkpoint", reader.Path);
        Row("Format version", m.FormatVersion.ToString(CultureInfo.InvariantCulture));
        Row("Spec", m.SpecName);
        Row("Spec hash", m.SpecHash);
        Row("Step", m.Metadata.Step.ToString(CultureInfo.InvariantCulture));
        Row("Saved (UTC)", m.Metadata.CreatedUtc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        Row("Code version", m.Metadata.CodeVersion);
        foreach (var (key, value) in m.Metadata.Extra.OrderBy(p => p.Key, StringComparer.Ordinal)) Row(key, value);
        Row("Tensors", $"{reader.Tensors.Count} ({CheckpointCommand.FormatBytes(reader.TotalTensorBytes)})");
        Row("Shards", $"{m.Shards.Count} ({CheckpointCommand.FormatBytes(m.Shards.Sum(s => s.Length))})");
        if (reader.TrainingState is { } state)
        {
            Row("Training state", $"optimizer {state.OptimizerName}, phase {state.ObjectivePhase}, schedule step {state.ScheduleStep}, lr {state.LearningRate:G6}");
            Row("Data position", $"{state.DataPosition} examples, {state.DataCounters.Count} counters, RNG {state.RngState.Length} words");
        }
        console.Write(summary);

        var table = new Table().AddColumn("Tensor").AddColumn("DType").AddColumn("Shape").AddColumn(new TableColumn("Size").RightAligned()).AddColumn("Shards");
        foreach (var entry in m.Tensors)
        {
            var d = reader.GetDescriptor(entry.Name);
            var shards = string.Join(",", entry.Chunks.Select(c => c.Shard).Distinct());
            table.AddRow(new Text(d.Name), new Text(d.DType.Name()), new Text(d.ShapeText),
                new Text(CheckpointCommand.FormatBytes(d.ByteLength)), new Text(shards.Length == 0 ? "-" : shards));
        }
        console.Write(table);
    }
}
