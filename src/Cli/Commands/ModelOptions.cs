using System.CommandLine;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>The options every command that runs a model shares: which spec, which weights, which device.</summary>
internal sealed class ModelOptions
{
    public Option<string> Spec { get; } = new("--spec")
    {
        Description = "Model spec name (see `openmoe specs`); optional with --weights, whose files name their spec.",
    };
    public Option<string?> Weights { get; } = new("--weights")
    {
        Description = "Checkpoint folder, run folder (its latest checkpoint) or safetensors file/folder.",
    };
    public Option<ulong?> InitSeed { get; } = new("--init-seed") { Description = "Use freshly initialised random weights with this seed instead of --weights." };
    public Option<string> Device { get; } = new("--device")
    {
        Description = "auto (CUDA if present, else CPU), cuda or cpu.",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Spec);
        command.Options.Add(Weights);
        command.Options.Add(InitSeed);
        command.Options.Add(Device);
    }

    /// <summary>The tokenizer the --weights checkpoint records it was trained with, or null (random weights, or no record).</summary>
    public string? RecordedTokenizer(ParseResult parse)
    {
        if (parse.GetValue(Weights) is not { } path)
            return null;
        using var file = WeightFile.Open(path, expectedSpec: null);
        return file.Checkpoint is { } checkpoint ? OpenMoE.Training.CheckpointTrainingStore.StateOf(checkpoint.Metadata.Extra)?.Tokenizer : null;
    }

    /// <summary>Creates the device and the model the options describe, printing the device and the weights.</summary>
    public (ComputeDevice Device, MoeTransformer Model) Build(ParseResult parse, IAnsiConsole console)
    {
        string? specName = parse.GetValue(Spec);
        var spec = specName is null ? null : ModelSpecs.Find(specName);
        string? weightsPath = parse.GetValue(Weights);
        ulong? seed = parse.GetValue(InitSeed);
        if ((weightsPath is null) == (seed is null))
            throw new ArgumentException("Give exactly one of --weights PATH or --init-seed N (random weights).");

        using var file = weightsPath is null ? null : WeightFile.Open(weightsPath, spec);
        spec = file?.Spec ?? spec ?? throw new ArgumentException("Name a model with --spec (see `openmoe specs`).");
        var device = DeviceFactory.Create(DeviceFactory.Parse(parse.GetValue(Device)!));
        try
        {
            console.MarkupLineInterpolated($"device [green]{device.Description}[/]");
            console.MarkupLineInterpolated($"model [green]{spec.Name}[/], weights: {file?.Description ?? $"random (OpenMoE initialisation, seed {seed})"}");
            var weights = DeviceWeights.Load(device, spec, (p, sink) =>
            {
                if (file is null)
                    WeightInitializer.Stream(spec.Config, p, seed!.Value, sink);
                else
                    file.Stream(p, sink);
            });
            var network = new MoeTransformer(device, spec, weights);
            RoutingCheckpointState.Restore(network, file?.Checkpoint, routing: null);
            return (device, network);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
