namespace OpenMoE.Bench.Gemm;

/// <summary>Command-line options of the GEMM bench.</summary>
internal sealed record GemmBenchOptions(int Threads, int Reps, int Warmup, int Tokens, int Vocab, string? JsonPath, bool Tiled, string? Only = null)
{
    public static GemmBenchOptions Parse(string[] args)
    {
        var o = new GemmBenchOptions(Threads: 2, Reps: 7, Warmup: 2, Tokens: 512, Vocab: 32768, JsonPath: null, Tiled: true);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            o = args[i] switch
            {
                "--threads" => o with { Threads = int.Parse(Value()) },
                "--reps" => o with { Reps = int.Parse(Value()) },
                "--warmup" => o with { Warmup = int.Parse(Value()) },
                "--tokens" => o with { Tokens = int.Parse(Value()) },
                "--vocab" => o with { Vocab = int.Parse(Value()) },
                "--json" => o with { JsonPath = Value() },
                "--no-tiled" => o with { Tiled = false },
                "--only" => o with { Only = Value() },
                _ => throw new ArgumentException(
                    $"Unknown option {args[i]}. Options: --threads N --reps N --warmup N --tokens N --vocab N --json FILE --no-tiled --only NAME[,NAME]"),
            };
        }
        if (o.Threads < 1 || o.Reps < 1 || o.Warmup < 0 || o.Tokens < 1 || o.Vocab < 1)
            throw new ArgumentException("--threads, --reps, --tokens and --vocab must be >= 1, --warmup >= 0.");
        return o;
    }
}
