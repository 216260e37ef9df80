using System.CommandLine;
using System.Text.Json;
using OpenMoE.Model.Evaluation;
using OpenMoE.Runtime.Communication;
using OpenMoE.Training.Tokenization;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe eval</c>: cross-entropy, perplexity, router losses and drop ratio per MoE layer on a
/// text file or a token-id file; optionally dumps last-position logits and the routing trace.
/// With <c>--json</c> the report is the only thing on stdout (the device line and progress go to stderr).
/// </summary>
public static class EvalCommand
{
    /// <summary>Tokens per sequence when a text file is cut into pieces and no --seq is given.</summary>
    private const int DefaultTextPiece = 128;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = new ModelOptions();
        var routing = new RoutingCliOptions(record: true, replay: true);
        var text = new Option<string?>("--text")
        {
            Description = "Text file to evaluate, tokenized with the byte-level tokenizer (or --tokenizer) and cut into pieces of --seq tokens.",
        }.NotEmpty().WithDeprecatedAlias("--data");
        var tokenIds = new Option<string?>("--token-ids")
        {
            Description = "Token-id file: one sequence per line (ids separated by commas or spaces), each evaluated whole unless --seq cuts it.",
        }.NotEmpty();
        var tokenizer = ModelOptions.TokenizerOption();
        var batch = ModelOptions.BatchOption(4);
        var seq = new Option<int?>("--seq")
        {
            Description = $"Cut sequences into pieces of at most this many tokens (at most the spec's context length; default: whole lines for --token-ids, {DefaultTextPiece} for --text).",
        }.AtLeast(2);
        var capacity = ModelOptions.CapacityFactorOption("evaluation");
        var maxSequences = new Option<int>("--max-sequences") { Description = "Evaluate at most this many sequences (0 = all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var json = new Option<bool>("--json") { Description = "Print the report as JSON, alone on stdout." };
        var dump = new Option<string?>("--dump") { Description = "Write last-position logits and the routing trace to this JSON file." }.NotEmpty();
        var parallel = new ParallelCliOptions();
        var command = new Command("eval", "Evaluate a model: loss, perplexity, router losses, drop ratio per MoE layer.")
            { text, tokenIds, tokenizer, batch, seq, capacity, maxSequences, json, dump };
        model.AddTo(command);
        routing.AddTo(command);
        parallel.AddTo(command);
        command.SetAction(parse =>
        {
            using var communicator = Communicators.FromEnvironment();
            return RankFailures.Run(communicator, () => Evaluate(parse, communicator));
        });
        return command;

        int Evaluate(ParseResult parse, ICommunicator communicator)
        {
            var experts = parallel.Start(parse, communicator);
            string? textPath = parse.GetValue(text), idsPath = parse.GetValue(tokenIds), dumpPath = parse.GetValue(dump);
            if ((textPath is null) == (idsPath is null))
                throw new UsageException("Give exactly one of --text FILE or --token-ids FILE.");
            if (dumpPath is not null && Directory.Exists(dumpPath))
                throw new UsageException($"--dump '{dumpPath}' is a directory; pass the path of a JSON file to write.");
            // Text is tokenized here, so it must be the model's tokenizer; token ids need none.
            if (textPath is not null)
                Tokenizers.CheckMatches(model.RecordedTokenizer(parse), parse.GetValue(tokenizer), parse.GetValue(model.Weights) ?? "the model");
            if (experts is not null && (dumpPath is not null || parse.GetValue(routing.Record) is not null || parse.GetValue(routing.Replay) is not null))
                throw new UsageException("--dump, --record-routing and --replay-routing run in one process; drop --expert-parallel for them.");
            bool asJson = parse.GetValue(json);
            var console = ParallelCliOptions.ConsoleFor(communicator, asJson ? CliConsole.Err(parse) : CliConsole.Out(parse));
            var (device, network) = model.Build(parse, console, batch: parse.GetValue(batch), seq: parse.GetValue(seq) ?? DefaultTextPiece, parallel: experts);
            using (device)
            using (network)
            {
                routing.Apply(parse, network, console);
                var recorder = routing.Recorder(parse);
                var replay = routing.OpenReplay(parse, network.Spec);
                var config = network.Spec.Config;
                var input = idsPath is not null
                    ? TokenIdFile.Sequences(TokenIdFile.ReadLines(idsPath), parse.GetValue(seq), config.Vocab, config.ContextLength)
                    : TextSequences(textPath!, parse.GetValue(tokenizer), config.Vocab, parse.GetValue(seq) ?? Math.Min(DefaultTextPiece, config.ContextLength), config.ContextLength);
                foreach (var skipped in input.Skipped)
                    CliConsole.Err(parse).MarkupLineInterpolated($"[yellow]skipped {skipped}[/]");
                var sequences = input.Sequences;
                if (sequences.Count == 0)
                    throw new UsageException($"No sequence of at least 2 tokens to evaluate in {idsPath ?? textPath} ({input.Skipped.Count} skipped).");
                int limit = parse.GetValue(maxSequences);
                if (limit > 0 && sequences.Count > limit)
                    sequences = sequences.Take(limit).ToList();
                double cf = parse.GetValue(capacity) ?? config.EvalCapacityFactor;
                using var dumpWriter = dumpPath is not null ? new EvalDumpWriter(dumpPath) : null;
                int batchSize = parse.GetValue(batch);
                EvaluationReport? report = null;
                console.Progress().Start(progress =>
                {
                    var task = progress.AddTask("evaluating", maxValue: sequences.Count);
                    report = new Evaluator(network) { RecordRouting = recorder, ReplayRouting = replay }.Run(sequences, batchSize, cf,
                        dumpWriter is null ? null : dumpWriter.Write, done => task.Increment(done));
                });
                routing.Finish(parse, network.Spec, recorder, replay, console);
                if (asJson && communicator.Rank == 0)
                    parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
                else if (!asJson)
                    WriteTable(console, report!, input.Skipped.Count);
            }
            return 0;
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static EvaluationInput TextSequences(string path, string? tokenizerPath, int vocab, int piece, int context)
    {
        if (Directory.Exists(path))
            throw new FileNotFoundException($"--text '{path}' is a directory; pass a text file.", path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"--text '{path}' does not exist.", path);
        var tokenizer = Tokenizers.Open(tokenizerPath, vocab);
        int[] ids = [tokenizer.BosId, .. tokenizer.Encode(File.ReadAllText(path))];
        return TokenIdFile.Sequences([(ids, path)], piece, vocab, context);
    }

    private static void WriteTable(IAnsiConsole console, EvaluationReport report, int skipped)
    {
        var table = new Table().AddColumns("metric", "value");
        table.AddRow("spec", report.Spec);
        table.AddRow("sequences", report.Sequences.ToString());
        table.AddRow("skipped", skipped.ToString());
        table.AddRow("targets", report.Targets.ToString());
        table.AddRow("capacity factor", report.CapacityFactor.ToString("G4"));
        table.AddRow("cross-entropy (nats)", report.CrossEntropy.ToString("F4"));
        table.AddRow("perplexity", report.Perplexity.ToString("F2"));
        table.AddRow("load-balancing loss", report.LoadBalancingLoss.ToString("F4"));
        table.AddRow("router z-loss", report.RouterZLoss.ToString("F4"));
        foreach (var (layer, ratio) in report.DropRatioByLayer)
            table.AddRow($"drop ratio, layer {layer}", ratio.ToString("P2"));
        foreach (var rank in report.Ranks ?? [])
            table.AddRow($"rank {rank.Rank}", $"{rank.Tokens} tokens, sent {rank.RowsSent} rows ({rank.BytesSent / 1048576.0:F2} MiB)");
        console.Write(table);
    }
}
