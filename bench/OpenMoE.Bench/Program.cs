using OpenMoE.Bench.Forward;

// bench <name> [options]: each benchmark prints one JSON object on stdout (progress on stderr).
var benches = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
{
    ["forward"] = ForwardBench.Run,
};
if (args.Length == 0 || !benches.TryGetValue(args[0], out var bench))
{
    Console.Error.WriteLine($"usage: bench <{string.Join('|', benches.Keys)}> [options]");
    return 2;
}
return bench(args[1..]);
