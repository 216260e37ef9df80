using System.CommandLine;
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
    public Option<ulong?> InitSeed { get; } = new("--init-seed") { Description = "Use freshly initialised random weights with this seed." };
    public Option<string> Device { get; } = new("--device")
    {
        Description = "auto (CUDA if present, else CPU), cuda or cpu.",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Spec);
        command.Options.Add(InitSeed);
        command.Options.Add(Device);
    }

    /// <summary>Creates the device and the model the options describe, printing the device.</summary>
    public (ComputeDevice Device, MoeTransformer Model) Build(ParseResult parse, IAnsiConsole console)
    {
        var spec = ModelSpecs.Find(parse.GetValue(Spec) ?? throw new ArgumentException("Name a model with --spec (see `openmoe specs`)."));
        ulong seed = parse.GetValue(InitSeed) ?? throw new ArgumentException("Give --init-seed N for random weights.");
        var device = DeviceFactory.Create(DeviceFactory.Parse(parse.GetValue(Device)!));
        try
        {
            console.MarkupLineInterpolated($"device [green]{device.Description}[/], model [green]{spec.Name}[/]");
            var weights = DeviceWeights.Load(device, spec, p => WeightInitializer.Create(spec.Config, p, seed));
            return (device, new MoeTransformer(device, spec, weights));
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
