using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training.Planning;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe plan</c>: what a run needs (weights, gradients, optimizer state, activations, KV cache,
/// host copies) next to what the device has, before anything is loaded. The same plan is what
/// train, eval, generate and analyze check up front.
/// </summary>
public static class PlanCommand
{
    /// <summary>Builds the <c>plan</c> command.</summary>
    public static Command Create()
    {
        var spec = new Option<string>("--spec") { Description = "Model spec name (see `openmoe specs`).", Required = true };
        var precision = new Option<string>("--precision")
        {
            Description = "fp32 (what every command runs today) or bf16 (OpenMoE's recipe: bf16 weights and activations, fp32 master weights, optimizer state, router and logits).",
            DefaultValueFactory = _ => "fp32",
        }.OneOf("fp32", "bf16");
        var batch = ModelOptions.BatchOption(1);
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence T.", DefaultValueFactory = _ => 128 }.Between(1, 1 << 24);
        var train = new Option<bool>("--train") { Description = "Plan a training run (gradients, optimizer state, activations kept for the backward)." };
        var optimizer = new Option<string>("--optimizer") { Description = "With --train: adafactor or adamw.", DefaultValueFactory = _ => "adafactor" }.OneOf("adafactor", "adamw");
        var kvCache = new Option<int>("--kv-cache") { Description = "Inference: positions per sequence in a generation's KV cache (0 = none, as eval).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var mmap = new Option<bool>("--mmap") { Description = "Inference on the CPU from a memory-mapped checkpoint: the weights are paged in as touched and need no memory of their own." };
        var expertParallel = new Option<int>("--expert-parallel")
        {
            Description = "Plan one of E expert-parallel ranks: the replicated tensors and 1/E of the experts; --batch is then that rank's sequences.",
            DefaultValueFactory = _ => 1,
        }.AtLeast(1);
        var device = ModelOptions.DeviceOption();
        var deviceMemory = new Option<string?>("--device-memory")
        {
            Description = "Plan for a device of this size instead of asking the device, e.g. 141GB (an H200) or 24GiB.",
        }.NotEmpty();
        var command = new Command("plan", "Print the memory a run needs (weights, gradients, optimizer state, activations, KV cache) next to what the device has.")
        {
            spec, precision, batch, seq, train, optimizer, kvCache, mmap, expertParallel, device, deviceMemory,
        };
        command.SetAction(parse =>
        {
            var info = ModelSpecs.Find(parse.GetValue(spec)!);
            if (parse.GetValue(kvCache) > 0 && parse.GetValue(train))
                throw new UsageException("--kv-cache plans generation; it does not combine with --train.");
            if (parse.GetValue(mmap) && parse.GetValue(train))
                throw new UsageException("--mmap plans inference from a mapped checkpoint; training keeps its weights in memory (drop --mmap).");
            var request = new PlanRequest(info, PrecisionSizes.Parse(parse.GetValue(precision)!), parse.GetValue(batch), parse.GetValue(seq))
            {
                Optimizer = parse.GetValue(train) ? parse.GetValue(optimizer) : null,
                KvCachePositions = parse.GetValue(kvCache),
                ExpertParallel = parse.GetValue(expertParallel),
            };
            var held = MemoryPlanner.HeldParameters(info, request.ExpertParallel);
            var kind = DeviceFactory.Parse(parse.GetValue(device)!);
            var (memory, hostIsDevice) = Memory(kind, parse.GetValue(deviceMemory));
            if (parse.GetValue(mmap))
                request = hostIsDevice
                    ? request with { MappedWeightBytes = held.Sum(p => p.Elements) * request.Precision.BytesPerElement() }
                    : throw new UsageException("--mmap applies to the CPU, where kernels read the mapped file in place; a GPU needs its weights in device memory (drop --mmap or use --device cpu).");
            var plan = MemoryPlanner.Plan(request, memory, hostIsDevice);
            parse.InvocationConfiguration.Output.WriteLine(plan.Table());
            return 0;
        });
        return command;
    }

    /// <summary>The memory to plan against: the size given, or the device's own (a device that is not here is a usage error).</summary>
    private static (DeviceMemory Memory, bool HostIsDevice) Memory(DeviceKind kind, string? given)
    {
        if (given is not null)
            return (DeviceMemory.Assumed(ParseSize(given), kind == DeviceKind.Cpu ? "cpu" : "cuda"), kind == DeviceKind.Cpu);
        if (kind == DeviceKind.Cpu)
            return (DeviceMemory.Host(), true);
        try
        {
            using var created = DeviceFactory.Create(kind);
            return (DeviceMemory.Of(created), created.Kind == DeviceKind.Cpu);
        }
        catch (DeviceUnavailableException)
        {
            throw new UsageException("--device cuda: this machine has no CUDA device; pass --device-memory SIZE (e.g. 141GB for an H200) to plan for one.");
        }
    }

    /// <summary>Parses <c>141GB</c>, <c>139.8GiB</c>, <c>512MiB</c> (decimal GB/MB, binary GiB/MiB).</summary>
    internal static long ParseSize(string text)
    {
        (string Unit, double Scale)[] units = [("GiB", 1L << 30), ("MiB", 1L << 20), ("GB", 1e9), ("MB", 1e6)];
        foreach (var (unit, scale) in units)
        {
            if (text.EndsWith(unit, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && double.IsFinite(value) && value > 0 && value * scale < long.MaxValue)
                return (long)(value * scale);
        }
        throw new UsageException($"--device-memory '{text}': give a size with a unit, e.g. 141GB, 139.8GiB or 512MiB.");
    }
}
