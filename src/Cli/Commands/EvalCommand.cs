using System.CommandLine;
using System.Text.Json;
using OpenMoE.Model.Evaluation;
using OpenMoE.Training.Tokenization;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe eval</c>: cross-entropy, perplexity, router losses and drop ratio per MoE layer on a
/// text file or a token-id file; optionally dumps last-position logits and the routing trace.
/// </summary>
public static class EvalCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = new ModelOptions();
        var routing = new RoutingCliOptions(record: true, replay: true);
        var data = new Option<string?>("--data") { Description = "Text file, tokenized with the byte-level tokenizer (or --tokenizer)." };
        var tokenIds = new Option<string?>("--token-ids") { Description = "Token-id file: one sequence per line, ids separated by commas or spaces." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "gpt2 | r50k | cl100k | o200k (BPE vocabularies) or a SentencePiece .model file for --data; default: byte-level." };
        var batch = new Option<int>("--batch") { Description = "Sequences per forward.", DefaultValueFactory = _ => 4 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence (data is cut into pieces of this length).", DefaultValueFactory = _ => 128 };
        var capacity = new Option<double?>("--capacity-factor") { Description = "Routing capacity factor (default: the spec's evaluation factor)." };
        var maxSequences = new Option<int>("--max-sequences") { Description = "Evaluate at most this many sequences (0 = all).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var dump = new Option<string?>("--dump") { Description = "Write last-position logits and the routing trace to this JSON file." };
        var command = new Command("eval", "Evaluate a model: loss, perplexity, router losses, drop ratio per MoE layer.")
            { data, tokenIds, tokenizer, batch, seq, capacity, maxSequences, json, dump };
        model.AddTo(command);
        routing.AddTo(command);
        command.SetAction(parse => CliErrors.Run(AnsiConsole.Console, () =>
        {
            var console = AnsiConsole.Console;
            var (device, network) = model.Build(parse, console);
            using (device)
            using (network)
            {
                routing.Apply(parse, network, console);
                var recorder = routing.Recorder(parse);
                var replay = routing.OpenReplay(parse, network.Spec);
                var sequences = LoadSequences(parse.GetValue(data), parse.GetValue(tokenIds), parse.GetValue(tokenizer),
                    network.Spec.Config.Vocab, parse.GetValue(seq));
                int limit = parse.GetValue(maxSequences);
                if (limit > 0 && sequences.Count > limit)
                    sequences = sequences.Take(limit).ToList();
                double cf = parse.GetValue(capacity) ?? network.Spec.Config.EvalCapacityFactor;
                using var dumpWriter = parse.GetValue(dump) is { } dumpPath ? new EvalDumpWriter(dumpPath) : null;
                int batchSize = parse.GetValue(batch);
                int batches = (sequences.Count + batchSize - 1) / Math.Max(batchSize, 1);
                EvaluationReport? report = null;
                console.Progress().Start(progress =>
                {
                    var task = progress.AddTask("evaluating", maxValue: Math.Max(batches, 1));
                    report = new Evaluator(network) { RecordRouting = recorder, ReplayRouting = replay }.Run(sequences, batchSize, cf, result =>
                    {
                        dumpWriter?.Write(result);
                        task.Increment(1);
                    });
                });
                routing.Finish(parse, network.Spec, recorder, replay, console);
                if (parse.GetValue(json))
                    console.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
                else
                    WriteTable(console, report!);
            }
            return 0;
        }));
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static List<int[]> LoadSequences(string? data, string? tokenIds, string? tokenizerPath, int vocab, int seq)
    {
        if ((data is null) == (tokenIds is null))
            throw new ArgumentException("Give exactly one of --data FILE or --token-ids FILE.");
        if (tokenIds is not null)
            return TokenIdFile.Chunk(TokenIdFile.Read(tokenIds), seq);
        if (!File.Exists(data))
            throw new FileNotFoundException($"Data file '{data}' does not exist.", data);
        var tokenizer = Tokenizers.Open(tokenizerPath, vocab);
        return TokenIdFile.Chunk([[tokenizer.BosId, .. tokenizer.Encode(File.ReadAllText(data!))]], seq);
    }

    private static void WriteTable(IAnsiConsole console, EvaluationReport report)
    {
        var table = new Table().AddColumns("metric", "value");
        table.AddRow("spec", report.Spec);
        table.AddRow("sequences", report.Sequences.ToString());
        table.AddRow("targets", report.Targets.ToString());
        table.AddRow("capacity factor", report.CapacityFactor.ToString("G4"));
        table.AddRow("cross-entropy (nats)", report.CrossEntropy.ToString("F4"));
        table.AddRow("perplexity", report.Perplexity.ToString("F2"));
        table.AddRow("load-balancing loss", report.LoadBalancingLoss.ToString("F4"));
        table.AddRow("router z-loss", report.RouterZLoss.ToString("F4"));
        foreach (var (layer, ratio) in report.DropRatioByLayer)
            table.AddRow($"drop ratio, layer {layer}", ratio.ToString("P2"));
        console.Write(table);
    }
}
