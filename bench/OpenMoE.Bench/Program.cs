using OpenMoE.Bench.Checkpoints;
using OpenMoE.Bench.Forward;
using OpenMoE.Bench.Gemm;
using OpenMoE.Bench.Kernels;
using OpenMoE.Bench.Ptx;
using OpenMoE.Bench.Training;

// bench <name> [options]: each benchmark prints JSON on stdout (progress on stderr) and compares
// against a reference measured in the same run.
var benches = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
{
    ["attention"] = AttentionBench.Run,
    ["checkpoint"] = CheckpointBench.Run,
    ["forward"] = ForwardBench.Run,
    ["gemm"] = GemmBench.Run,
    ["kernels"] = KernelBench.Run,
    ["plan"] = PlanBench.Run,
    ["ptx"] = PtxBench.Run,
    ["routing-rules"] = RoutingRulesBench.Run,
    ["training"] = TrainingBench.Run,
};
if (args.Length == 0 || !benches.TryGetValue(args[0], out var bench))
{
    Console.Error.WriteLine($"usage: bench <{string.Join('|', benches.Keys)}> [options]");
    return 2;
}
return bench(args[1..]);
