using System.CommandLine;
using OpenMoE.Model.Evaluation;
using OpenMoE.Model.Generation;
using OpenMoE.Runtime.Communication;
using OpenMoE.Training.Tokenization;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe generate</c>: continues a prompt (text or token ids) with KV-cached decoding and
/// greedy, temperature, top-k or top-p sampling.
/// </summary>
public static class GenerateCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = new ModelOptions();
        var routing = new RoutingCliOptions(record: false, replay: false);
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (byte-level tokenizer unless --tokenizer is given)." }.NotEmpty();
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as token ids separated by commas or spaces." }.NotEmpty();
        var tokenizer = ModelOptions.TokenizerOption();
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate (prompt + new tokens at most the context length).", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 1.0 }.NonNegative();
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens (0 = off).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold (1 = off).", DefaultValueFactory = _ => 1.0 }.Fraction();
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0 };
        var command = new Command("generate", "Generate text with a KV cache.") { prompt, promptIds, tokenizer, maxNew, temperature, topK, topP, seed };
        var parallel = new ParallelCliOptions();
        model.AddTo(command);
        routing.AddTo(command);
        parallel.AddTo(command);
        command.SetAction(parse =>
        {
            using var communicator = Communicators.FromEnvironment();
            return RankFailures.Run(communicator, () => Generate(parse, communicator));
        });
        return command;

        int Generate(ParseResult parse, ICommunicator communicator)
        {
            var experts = parallel.Start(parse, communicator);
            var console = ParallelCliOptions.ConsoleFor(communicator, CliConsole.Out(parse));
            Tokenizers.CheckMatches(model.RecordedTokenizer(parse), parse.GetValue(tokenizer), parse.GetValue(model.Weights) ?? "the model");
            var (device, network) = model.Build(parse, console, seq: parse.GetValue(maxNew), kvCache: true, parallel: experts);
            using (device)
            using (network)
            {
                routing.Apply(parse, network, console);
                var text = Tokenizers.Open(parse.GetValue(tokenizer), network.Spec.Config.Vocab);
                int[] ids = PromptTokens(parse.GetValue(prompt), parse.GetValue(promptIds), text);
                var sampling = new SamplingOptions
                {
                    Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK),
                    TopP = parse.GetValue(topP), Seed = parse.GetValue(seed),
                };
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var generated = new TextGenerator(network).Generate(ids, parse.GetValue(maxNew), sampling, text.EosId);
                double seconds = clock.Elapsed.TotalSeconds;
                console.MarkupLineInterpolated($"[grey]prompt ids:[/] {string.Join(' ', ids)}");
                console.MarkupLineInterpolated($"[grey]new ids:[/] {string.Join(' ', generated)}");
                console.WriteLine(text.Decode(ids.Concat(generated).ToArray()));
                console.MarkupLineInterpolated(
                    $"[grey]{generated.Length} tokens in {seconds:F2} s ({generated.Length / Math.Max(seconds, 1e-9):F2} tokens/s, prompt included); resident memory {Environment.WorkingSet / 1e9:F2} GB, peak {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB[/]");
            }
            return 0;
        }
    }

    private static int[] PromptTokens(string? prompt, string? promptIds, ITokenizer tokenizer)
    {
        if ((prompt is null) == (promptIds is null))
            throw new UsageException("Give exactly one of --prompt TEXT or --prompt-ids IDS.");
        return promptIds is not null
            ? TokenIdFile.ParseIds(promptIds, "--prompt-ids")
            : [tokenizer.BosId, .. tokenizer.Encode(prompt!)];
    }
}
