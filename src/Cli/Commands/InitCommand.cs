using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary><c>openmoe init --spec NAME --seed N --out PATH</c>: writes freshly initialised weights as a checkpoint.</summary>
public static class InitCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var spec = new Option<string>("--spec") { Description = "Model spec name (see `openmoe specs`).", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Initialisation seed.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Checkpoint folder to create.", Required = true };
        var command = new Command("init", "Write freshly initialised weights (OpenMoE's initialisation) as a checkpoint.") { spec, seed, output };
        command.SetAction(parse => CliErrors.Run(AnsiConsole.Console, () =>
        {
            var info = ModelSpecs.Find(parse.GetValue(spec)!);
            ulong s = parse.GetValue(seed);
            var metadata = CheckpointMetadata.Now(0);
            metadata.Extra["init_seed"] = s.ToString(CultureInfo.InvariantCulture);
            string path = "";
            AnsiConsole.Progress().Start(progress =>
            {
                var task = progress.AddTask($"initialising {info.Name}", maxValue: info.Parameters.Length);
                path = ModelCheckpoint.Save(parse.GetValue(output)!, info, p =>
                {
                    task.Increment(1);
                    return WeightInitializer.Create(info.Config, p, s);
                }, metadata);
            });
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] ({info.TotalParams:N0} parameters, seed {s})");
            return 0;
        }));
        return command;
    }
}
