using System.CommandLine;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training.Planning;
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
    public Option<bool> TrustChecksums { get; } = new("--trust-checksums")
    {
        Description = "Skip verifying every checksum of a --weights checkpoint before loading (the manifest is still checked; copied tensors are checked as they are read, memory-mapped ones are not).",
    };
    public Option<bool> NoMmap { get; } = new("--no-mmap")
    {
        Description = "On the CPU, copy --weights into memory instead of using the checkpoint's tensors in place through a memory map.",
    };

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
        command.Options.Add(TrustChecksums);
        command.Options.Add(NoMmap);
    }

    /// <summary>The tokenizer the --weights checkpoint records it was trained with, or null (random weights, or no record).</summary>
    public string? RecordedTokenizer(ParseResult parse)
    {
        if (parse.GetValue(Weights) is not { } path)
            return null;
        using var file = WeightFile.Open(path, expectedSpec: null, verifyChecksums: false);   // reads the manifest only
        return file.Checkpoint is { } checkpoint ? OpenMoE.Training.CheckpointTrainingStore.RecordedTokenizer(checkpoint.Metadata.Extra) : null;
    }

    /// <summary>
    /// Creates the device and the model the options describe, printing the device and the weights.
    /// Refuses before loading anything when the weights and one forward of <paramref name="batch"/> x
    /// <paramref name="seq"/> tokens (with a KV cache of as many positions when <paramref name="kvCache"/>)
    /// cannot fit the device's memory (<see cref="MemoryPlanner"/>).
    /// </summary>
    public (ComputeDevice Device, MoeTransformer Model) Build(ParseResult parse, IAnsiConsole console, int batch = 1, int seq = 1, bool kvCache = false,
        ExpertParallelism? parallel = null)
    {
        string? specName = parse.GetValue(Spec);
        var spec = specName is null ? null : ModelSpecs.Find(specName);
        string? weightsPath = parse.GetValue(Weights);
        ulong? seed = parse.GetValue(InitSeed);
        if ((weightsPath is null) == (seed is null))
            throw new ArgumentException("Give exactly one of --weights PATH or --init-seed N (random weights).");

        using var file = weightsPath is null ? null : WeightFile.Open(weightsPath, spec, verifyChecksums: !parse.GetValue(TrustChecksums));
        spec = file?.Spec ?? spec ?? throw new ArgumentException("Name a model with --spec (see `openmoe specs`).");
        var device = DeviceFactory.Create(DeviceFactory.Parse(parse.GetValue(Device)!));
        try
        {
            int tokens = Math.Min(seq, spec.Config.ContextLength);
            var mapped = device.Kind == DeviceKind.Cpu && !parse.GetValue(NoMmap) ? file?.MapInPlace() : null;
            // An expert-parallel rank plans for what it holds: its share of the experts, and at most ceil(B/P) sequences.
            int ranks = parallel?.Size ?? 1;
            long mappedBytes = mapped is { } m ? MemoryPlanner.HeldParameters(spec, ranks).Where(p => m.Address(p) != 0).Sum(p => 4 * p.Elements) : 0;
            try
            {
                MemoryPlanner.Plan(new PlanRequest(spec, Precision.Fp32, (batch + ranks - 1) / ranks, tokens)
                    {
                        KvCachePositions = kvCache ? tokens : 0, MappedWeightBytes = mappedBytes, ExpertParallel = ranks,
                    },
                    DeviceMemory.Of(device), hostIsDevice: device.Kind == DeviceKind.Cpu)
                    .Require("Use a smaller --spec, a lower --batch or --seq, or a device with more memory.");
            }
            catch
            {
                mapped?.Map.Dispose();
                throw;
            }
            console.MarkupLineInterpolated($"device [green]{device.Description}[/]");
            console.MarkupLineInterpolated($"model [green]{spec.Name}[/], weights: {file?.Description ?? $"random (OpenMoE initialisation, seed {seed})"}");
            var weights = DeviceWeights.Load(device, spec, (p, sink) =>
            {
                if (file is null)
                    WeightInitializer.Stream(spec.Config, p, seed!.Value, sink);
                else
                    file.Stream(p, sink);
            }, mapped?.Address, mapped?.Map, parallel?.Shard(spec.Config.Experts));
            if (weights.InPlaceTensors > 0)
                console.MarkupLineInterpolated($"memory-mapped {weights.InPlaceTensors} of {spec.Parameters.Length} tensors in place");
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
