using System.CommandLine;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
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
    public Option<string> Device { get; } = DeviceOption();

    /// <summary>The one <c>--device</c> option of every command that runs kernels (default auto).</summary>
    public static Option<string> DeviceOption() => new Option<string>("--device")
    {
        Description = "auto (CUDA if present, else CPU), cuda or cpu.",
        DefaultValueFactory = _ => "auto",
    }.OneOf("auto", "cuda", "cpu");

    /// <summary>The one <c>--tokenizer</c> option: a SentencePiece model file instead of the byte tokenizer.</summary>
    public static Option<string?> TokenizerOption() => new Option<string?>("--tokenizer")
    {
        Description = "gpt2 | r50k | cl100k | o200k (BPE vocabularies), a Hugging Face tokenizer.json or a SentencePiece .model file (e.g. umT5's spiece.model); default: the byte tokenizer.",
    }.NotEmpty();

    /// <summary>The one <c>--capacity-factor</c> option; <paramref name="which"/> says whose default it is.</summary>
    public static Option<double?> CapacityFactorOption(string which) => new Option<double?>("--capacity-factor")
    {
        Description = $"Routing capacity factor (default: the spec's {which} factor).",
    }.Positive();

    /// <summary>The one <c>--batch</c> option (sequences per batch B).</summary>
    public static Option<int> BatchOption(int defaultValue) => new Option<int>("--batch")
    {
        Description = "Sequences per batch B.",
        DefaultValueFactory = _ => defaultValue,
    }.Between(1, 1 << 20);

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
        return file.Checkpoint is { } checkpoint ? OpenMoE.Training.CheckpointTrainingStore.RecordedTokenizer(checkpoint.Metadata.Extra) : null;
    }

    /// <summary>
    /// Creates the device and the model the options describe, printing the device and the weights.
    /// Refuses before loading anything when the weights and one forward of <paramref name="batch"/> x
    /// <paramref name="seq"/> tokens cannot fit the device's memory.
    /// </summary>
    public (ComputeDevice Device, MoeTransformer Model) Build(ParseResult parse, IAnsiConsole console, int batch = 1, int seq = 1,
        ExpertParallelism? parallel = null)
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
            long available = device.Kind == DeviceKind.Cuda ? device.Accelerator.MemorySize : ModelMemory.AvailableBytes();
            int tokens = Math.Min(seq, spec.Config.ContextLength);
            ModelMemory.Require($"{spec.Name} ({ModelMemory.GiB(ModelMemory.WeightBytes(spec))} of fp32 weights) with {batch} x {tokens} tokens",
                ModelMemory.InferenceBytes(spec, batch, tokens), available, "Use a smaller --spec, a lower --batch or --seq, or a device with more memory.");
            console.MarkupLineInterpolated($"device [green]{device.Description}[/]");
            console.MarkupLineInterpolated($"model [green]{spec.Name}[/], weights: {file?.Description ?? $"random (OpenMoE initialisation, seed {seed})"}");
            var weights = DeviceWeights.Load(device, spec, (p, sink) =>
            {
                if (file is null)
                    WeightInitializer.Stream(spec.Config, p, seed!.Value, sink);
                else
                    file.Stream(p, sink);
            }, parallel?.Shard(spec.Config.Experts));
            var network = new MoeTransformer(device, spec, weights, parallel);
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
