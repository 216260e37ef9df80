using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe expert-plan</c>: the paper plan of expert parallelism at scale (<see cref="ExpertParallelPlan"/>):
/// per training step, the bytes each rank sends through the all-to-alls and the gradient all-reduce,
/// memory per rank, and the seconds those bytes take at NVLink and InfiniBand bandwidths.
/// </summary>
public static class ExpertPlanCommand
{
    // Per GPU and direction: NVLink 4 (H100/H200 SXM: 18 links, 900 GB/s both directions) and one
    // InfiniBand NDR port (400 Gb/s), as NVIDIA publishes them. Bandwidth only, no latency.
    private const double NvLinkBytesPerSecond = 450e9, InfiniBandBytesPerSecond = 50e9;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var specs = new Option<string[]>("--spec")
        {
            Description = "Model specs to plan (repeatable).", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => ["OpenMoE-8B/32E", "OpenMoE-34B/32E"],
        };
        var expertParallel = new Option<int[]>("--expert-parallel")
        {
            Description = "Expert-parallel sizes E to plan (each must divide the spec's experts).", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [8, 16, 32],
        };
        var tokens = new Option<int>("--tokens-per-rank") { Description = "Tokens per rank per step (B*T).", DefaultValueFactory = _ => 4096 }.AtLeast(1);
        var capacity = ModelOptions.CapacityFactorOption("training");
        var command = new Command("expert-plan", "Paper plan of expert parallelism: all-to-all bytes and memory per rank per training step, at NVLink and InfiniBand speeds.")
            { specs, expertParallel, tokens, capacity };
        command.SetAction(parse =>
        {
            var sizes = parse.GetValue(expertParallel)!;
            if (sizes.Length == 0 || sizes.Any(e => e < 1))
                throw new UsageException("--expert-parallel needs sizes of at least 1.");
            var plans = new List<ExpertParallelPlan>();
            foreach (string name in parse.GetValue(specs)!)
            {
                var spec = ModelSpecs.Find(name);
                foreach (int e in sizes)
                {
                    if (spec.Config.Experts == 0 || spec.Config.Experts % e != 0)
                        throw new UsageException($"--expert-parallel {e} does not divide the {spec.Config.Experts} experts of {spec.Name}; use a divisor of {spec.Config.Experts}.");
                    plans.Add(new ExpertParallelPlan(spec, e, parse.GetValue(tokens), parse.GetValue(capacity) ?? spec.Config.TrainCapacityFactor, ActivationBytes: 2));
                }
            }
            Write(CliConsole.Out(parse), plans);
            return 0;
        });
        return command;
    }

    private static void Write(IAnsiConsole console, IReadOnlyList<ExpertParallelPlan> plans)
    {
        var table = new Table().AddColumns("spec", "E", "params/rank", "bf16 weights/rank", "train state/rank",
            "all-to-all/layer", "exchange/step", "grad all-reduce/step", "exchange NVLink", "exchange IB NDR", "all-reduce IB NDR");
        foreach (var p in plans)
        {
            table.AddRow(p.Spec.Name, p.ExpertParallel.ToString(CultureInfo.InvariantCulture), Billions(p.ParametersPerRank),
                Bytes(p.InferenceWeightBytes), Bytes(p.TrainingStateBytes), Bytes(p.AllToAllBytes), Bytes(p.ExchangeBytesPerStep),
                Bytes(p.GradientAllReduceBytes), Millis(ExpertParallelPlan.Seconds(p.ExchangeBytesPerStep, NvLinkBytesPerSecond)),
                Millis(ExpertParallelPlan.Seconds(p.ExchangeBytesPerStep, InfiniBandBytesPerSecond)),
                Millis(ExpertParallelPlan.Seconds(p.GradientAllReduceBytes, InfiniBandBytesPerSecond)));
        }
        console.Write(table);
        var first = plans[0];
        console.MarkupLineInterpolated(
            $"[grey]{first.TokensPerRank} tokens per rank per step, cf {first.CapacityFactor:G3}, bf16 activations; uniform routing, full capacity; 4 all-to-alls and one fp32 router all-gather per MoE layer and step; bandwidth per GPU and direction: NVLink 4 450 GB/s, InfiniBand NDR 50 GB/s; memory excludes activations.[/]");
    }

    private static string Billions(long count) => (count / 1e9).ToString("F2", CultureInfo.InvariantCulture) + "B";

    private static string Bytes(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    private static string Millis(double seconds) => (seconds * 1e3).ToString("F1", CultureInfo.InvariantCulture) + " ms";
}
