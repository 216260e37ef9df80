using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using Spectre.Console;

using OpenMoE.Training.Planning;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe init --spec NAME --init-seed N --out PATH</c>: writes freshly initialised weights as a checkpoint.</summary>
public static class InitCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var spec = new Option<string>("--spec") { Description = "Model spec name (see `openmoe specs`).", Required = true };
        var seed = new Option<ulong>("--init-seed") { Description = "Initialisation seed.", DefaultValueFactory = _ => 0 }.WithDeprecatedAlias("--seed");
        var output = new Option<string>("--out") { Description = "Checkpoint folder to create.", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing checkpoint at --out." };
        var command = new Command("init", "Write freshly initialised weights (OpenMoE's initialisation) as a checkpoint.") { spec, seed, output, overwrite };
        command.SetAction(parse =>
        {
            var console = CliConsole.Out(parse);
            var info = ModelSpecs.Find(parse.GetValue(spec)!);
            ulong s = parse.GetValue(seed);
            string target = parse.GetValue(output)!;
            bool replace = parse.GetValue(overwrite);
            if (File.Exists(target) || (Directory.Exists(target) && !replace))
                throw new UsageException($"--out '{target}' already exists; choose another path{(File.Exists(target) ? "" : " or pass --overwrite")}.");
            RequireFreeSpace(target, 4 * info.TotalParams);
            var metadata = CheckpointMetadata.Now(0);
            metadata.Extra["init_seed"] = s.ToString(CultureInfo.InvariantCulture);
            string path = "";
            console.Progress().Start(progress =>
            {
                var task = progress.AddTask($"initialising {info.Name}", maxValue: info.Parameters.Length);
                // Streamed tensor by tensor in chunks: no tensor is ever held whole (34B's expert stacks exceed an array).
                path = ModelCheckpoint.Save(target, info, (p, sink) =>
                {
                    WeightInitializer.Stream(info.Config, p, s, sink);
                    task.Increment(1);
                }, metadata, options: new CheckpointWriteOptions { Overwrite = replace });
            });
            console.MarkupLineInterpolated($"wrote [green]{path}[/] ({info.TotalParams:N0} parameters, seed {s})");
            return 0;
        });
        return command;
    }

    private static void RequireFreeSpace(string target, long bytes)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(target))!;
        var existing = parent;
        while (!Directory.Exists(existing))
            existing = Path.GetDirectoryName(existing)!;
        long free = new DriveInfo(existing).AvailableFreeSpace;
        if (free < bytes)
            throw new UsageException($"--out '{target}': the checkpoint needs {MemoryPlan.Format(bytes)} and {existing} has {MemoryPlan.Format(free)} free; choose a path on a larger disk or a smaller --spec.");
    }
}
