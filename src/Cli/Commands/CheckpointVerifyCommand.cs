using System.CommandLine;
using OpenMoE.Runtime.Checkpoints;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe checkpoint verify PATH</c>: exit code 0 when every checksum matches, 1 otherwise.</summary>
public static class CheckpointVerifyCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "Checkpoint folder, run folder, or RUN/latest." };
        var command = new Command("verify", "Read every byte of a checkpoint and check all checksums (exit code 0 = intact, 1 = damaged, 2 = not found).") { path };
        command.SetAction(parseResult =>
        {
            var console = CliConsole.Out(parseResult);
            try
            {
                using var reader = CheckpointReader.Open(CheckpointRun.Resolve(parseResult.GetValue(path)!));
                CheckpointCommand.WithProgress(console, "Verifying", reader.Manifest.Shards.Sum(s => s.Length), reader.VerifyChecksums);
                console.MarkupLine($"[green]OK[/]: {Markup.Escape(reader.Path)}: {reader.Tensors.Count} tensors, " +
                    $"{CheckpointCommand.FormatBytes(reader.TotalTensorBytes)} in {reader.Manifest.Shards.Count} shards, " +
                    $"all checksums match ({Markup.Escape(reader.Spec.ToString())}, step {reader.Metadata.Step}).");
                return 0;
            }
            catch (CheckpointException e) when (e.Kind != CheckpointErrorKind.NotFound)
            {
                // A damaged checkpoint is this command's finding, not a usage error: exit code 1.
                throw new CommandFailedException($"DAMAGED: {e.Message}");
            }
        });
        return command;
    }
}
