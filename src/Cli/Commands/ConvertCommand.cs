using System.CommandLine;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Specs;
using System.Globalization;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.SafeTensors;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe convert SOURCE OUTPUT</c>: safetensors (file, index or folder) to an OpenMoE
/// checkpoint, or a checkpoint to safetensors; the direction follows from SOURCE.
/// </summary>
public static class ConvertCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var source = new Argument<string>("source") { Description = "A checkpoint (or run) folder, or safetensors: a .safetensors file, an index .json, or a folder with either." };
        var output = new Argument<string>("output") { Description = "Checkpoint folder to create, or a .safetensors file / folder for (sharded) safetensors." };
        var modelSpec = new Option<string?>("--spec") { Description = "Shipped model spec of the safetensors weights (e.g. OpenMoE-Base/16E): names, shapes and spec hash are checked against it." };
        var specName = new Option<string?>("--spec-name") { Description = "Model spec name recorded in the checkpoint (safetensors import; default: from the file's metadata)." };
        var specHash = new Option<string?>("--spec-hash") { Description = "Model spec hash recorded in the checkpoint (with --spec-name)." };
        var shardSize = new Option<string?>("--shard-size") { Description = "Largest shard, e.g. 2GiB or 512MiB (default 2GiB for checkpoints, 5GiB for safetensors)." };
        var optimizer = new Option<bool>("--include-optimizer") { Description = "Also export optimizer tensors (optim/...) to safetensors." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing output checkpoint." };
        var command = new Command("convert", "Convert between Hugging Face safetensors and OpenMoE checkpoints (tensor bytes are copied unchanged).")
        {
            source, output, modelSpec, specName, specHash, shardSize, optimizer, overwrite,
        };
        command.SetAction(parseResult =>
        {
            var console = CliConsole.Out(parseResult);
            var from = parseResult.GetValue(source)!;
            var to = parseResult.GetValue(output)!;
            var limit = ParseSize(parseResult.GetValue(shardSize));
            if (IsCheckpoint(from))
            {
                var files = SafeTensorsConverter.ToSafeTensors(from, to, limit ?? 5L << 30, parseResult.GetValue(optimizer));
                console.MarkupLine($"[green]Wrote[/] {files.Count} file(s) to {Markup.Escape(Path.GetFullPath(to))}");
                return 0;
            }
            var name = parseResult.GetValue(specName);
            var hash = parseResult.GetValue(specHash);
            if ((name is null) != (hash is null)) throw new ArgumentException("Pass --spec-name and --spec-hash together.");
            var spec = name is null ? null : new SpecIdentity(name, hash!);
            if (parseResult.GetValue(modelSpec) is { } shipped)
            {
                using var checkedWeights = WeightFile.Open(from, ModelSpecs.Find(shipped));
                spec = new SpecIdentity(checkedWeights.Spec.Name, checkedWeights.Spec.SpecHash);
            }
            var options = new CheckpointWriteOptions { MaxShardBytes = limit ?? CheckpointFormat.DefaultMaxShardBytes, Overwrite = parseResult.GetValue(overwrite) };
            var written = SafeTensorsConverter.ToCheckpoint(from, to, spec, options);
            using var reader = CheckpointReader.Open(written);
            console.MarkupLine($"[green]Wrote[/] checkpoint {Markup.Escape(written)}: {reader.Tensors.Count} tensors, " +
                $"{CheckpointCommand.FormatBytes(reader.TotalTensorBytes)} in {reader.Manifest.Shards.Count} shard(s), {Markup.Escape(reader.Spec.ToString())}");
            return 0;
        });
        return command;
    }

    private static bool IsCheckpoint(string path)
    {
        if (CheckpointReader.LooksLikeCheckpoint(path)) return true;
        if (SafeTensorsSet.LooksLikeSafeTensors(path)) return false;
        try
        {
            CheckpointRun.Resolve(path);
            return true;
        }
        catch (CheckpointException)
        {
            return false;
        }
    }

    /// <summary>Parses "2GiB", "512MiB", "64KiB" or a plain byte count.</summary>
    internal static long? ParseSize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var t = text.Trim();
        (string Suffix, long Factor)[] units = [("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (!t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            return double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0
                ? (long)(v * factor)
                : throw new ArgumentException($"'{text}' is not a size like 2GiB.");
        }
        return long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? bytes
            : throw new ArgumentException($"'{text}' is not a size like 2GiB.");
    }
}
