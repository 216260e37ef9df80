using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Cli;

/// <summary>Files that are wrong in every way a user's file can be, made once for the bad-input cases.</summary>
public sealed class BadFiles : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("openmoe-bad-input-").FullName;
    public string Empty => Path.Combine(Root, "empty.json");
    public string Binary => Path.Combine(Root, "binary.bin");
    public string NotJson => Path.Combine(Root, "prose.txt");
    public string Folder => Path.Combine(Root, "folder");
    public string ShortIds => Path.Combine(Root, "short-ids.txt");
    public string BadIds => Path.Combine(Root, "bad-ids.txt");

    public BadFiles()
    {
        File.WriteAllText(Empty, "");
        File.WriteAllBytes(Binary, [0x00, 0xff, 0x13, 0x37, 0x80, 0x00, 0xfe, 0x01]);
        File.WriteAllText(NotJson, "This is a sentence, not a data spec.\n");
        Directory.CreateDirectory(Folder);
        // 3 lines of 64 ids (shorter than eval's old default --seq 128), one single-token line, one empty line.
        var line = string.Join(' ', Enumerable.Range(0, 64).Select(i => (i * 7 + 3) % 512));
        File.WriteAllText(ShortIds, $"{line}\n{line}\n5\n\n{line}\n");
        File.WriteAllText(BadIds, $"{line}\n1 2 512 3\n");
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// Every bad input the CLI issue lists: one test case each, checking the exit code (2 for usage and
/// input errors), that stderr holds exactly one <c>error:</c> line naming the option or file, and
/// that no stack trace is printed.
/// </summary>
public sealed class BadInputTests(BadFiles files) : IClassFixture<BadFiles>
{
    private static string Corpus => RepositoryFiles.PathOf("data/corpus");

    internal static void AssertOneError(CliRunner.Result result, int exitCode, params string[] mentions)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        foreach (var mention in mentions)
            Assert.True(line.Contains(mention, StringComparison.Ordinal), $"'{line}' should name '{mention}'");
        Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
    }

    private string Out(string name) => Path.Combine(files.Root, "runs", name + Guid.NewGuid().ToString("N")[..6]);

    [Theory]
    [InlineData("--batch", "0")]
    [InlineData("--batch", "-1")]
    [InlineData("--steps", "0")]
    [InlineData("--steps", "-3")]
    [InlineData("--lr", "-1")]
    [InlineData("--lr", "0")]
    [InlineData("--clip", "-1")]
    [InlineData("--warmup", "-5")]
    [InlineData("--checkpoint-every", "-1")]
    [InlineData("--keep-checkpoints", "-2")]
    [InlineData("--seq", "0")]
    [InlineData("--capacity-factor", "0")]
    [InlineData("--objective", "mlm")]
    [InlineData("--device", "tpu")]
    public void Train_rejects_an_out_of_range_option_before_any_work(string option, string value)
    {
        var run = Out("range");
        AssertOneError(CliRunner.Invoke("train", "--data", Corpus, "--out", run, option, value), 2, option);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Train_names_a_bad_routing_rule_or_missing_recording_before_touching_the_run_folder()
    {
        var run = Out("routing");
        AssertOneError(CliRunner.Invoke("train", "--data", Corpus, "--out", run, "--routing", "bogus"), 2, "'bogus'");
        AssertOneError(CliRunner.Invoke("train", "--data", Corpus, "--out", run, "--replay-routing", files.Folder + "/none.rec"), 2, "--replay-routing");
        Assert.False(Directory.Exists(run));
    }

    [Theory]
    [InlineData("train")]
    [InlineData("demo")]
    [InlineData("analyze")]
    public void A_data_spec_that_is_empty_binary_or_not_json_is_one_error_naming_it(string command)
    {
        foreach (var bad in new[] { files.Empty, files.Binary, files.NotJson })
        {
            string[] args = command == "analyze"
                ? ["analyze", "--init-seed", "1", "--spec", "OpenMoE-Tiny", "--device", "cpu", "--data", bad, "--out", Out("a")]
                : [command, "--data", bad, "--out", Out("d")];
            AssertOneError(CliRunner.Invoke(args), 2, bad);
        }
    }

    [Fact]
    public void Init_into_an_existing_folder_refuses_and_says_how_to_replace_it() =>
        AssertOneError(CliRunner.Invoke("init", "--spec", "OpenMoE-Tiny", "--out", files.Folder), 2, "--out", files.Folder, "--overwrite");

    [Fact]
    public void Analyze_out_that_is_a_file_is_refused() =>
        AssertOneError(CliRunner.Invoke("analyze", "--init-seed", "1", "--spec", "OpenMoE-Tiny", "--device", "cpu", "--out", files.NotJson), 2, "--out", files.NotJson);

    [Fact]
    public void Eval_dump_into_a_directory_is_refused() =>
        AssertOneError(CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", files.ShortIds, "--dump", files.Folder),
            2, "--dump", files.Folder);

    [Theory]
    [InlineData("generate", "--tokenizer")]
    [InlineData("train", "--tokenizer")]
    [InlineData("train", "--spm")]
    public void A_tokenizer_that_is_a_directory_or_garbage_is_one_error_naming_it(string command, string option)
    {
        foreach (var bad in new[] { files.Folder, files.Binary, files.NotJson })
        {
            string[] args = command == "generate"
                ? ["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--prompt", "x", option, bad]
                : ["train", "--data", Corpus, "--out", Out("t"), option, bad];
            var result = CliRunner.Invoke(args);
            AssertOneError(result, 2, bad);
            if (option == "--spm")
                Assert.Contains("warning: --spm is deprecated; use --tokenizer.", result.Err);
        }
    }

    [Fact]
    public void Generate_with_an_empty_prompt_is_an_error() =>
        AssertOneError(CliRunner.Invoke("generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--prompt", ""), 2, "--prompt");

    [Fact]
    public void Eval_seq_beyond_the_context_length_says_so() =>
        AssertOneError(CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", files.ShortIds, "--seq", "100000000"),
            2, "--seq", "context length");

    [Fact]
    public void Eval_token_ids_outside_the_vocabulary_name_the_line() =>
        AssertOneError(CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", files.BadIds),
            2, files.BadIds + ":2", "512");

    [Fact]
    public void Eval_token_ids_evaluates_every_line_whole_and_reports_what_it_skips()
    {
        var result = CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", files.ShortIds, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(result.Out);
        Assert.Equal(3, json.RootElement.GetProperty("sequences").GetInt32());
        Assert.Equal(3 * 63, json.RootElement.GetProperty("targets").GetInt64());
        Assert.Contains($"skipped {files.ShortIds}:3: a piece of 1 token", result.Err);
        Assert.Contains($"skipped {files.ShortIds}:4: empty", result.Err);
    }

    [Fact]
    public void A_spec_too_large_for_this_machine_is_refused_with_the_figure_before_loading() =>
        AssertOneError(CliRunner.Invoke("generate", "--spec", "OpenMoE-34B/32E", "--init-seed", "1", "--device", "cpu", "--prompt", "x"),
            2, "OpenMoE-34B/32E needs about", "(weights 172.37 GiB)", "the device has");

    [Fact]
    public void A_batch_too_large_for_memory_is_refused_with_the_figure_before_any_work() =>
        AssertOneError(CliRunner.Invoke("train", "--data", Corpus, "--out", Out("mem"), "--batch", "1000000", "--device", "cpu"), 2, "--batch 1000000", "GiB");

    [Fact]
    public void An_unknown_option_or_command_is_one_error_with_the_help_command()
    {
        AssertOneError(CliRunner.Invoke("train", "--no-such-option"), 2, "--no-such-option", "openmoe train --help");
        AssertOneError(CliRunner.Invoke("trian"), 2, "trian");
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        var result = CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", files.BadIds, "--verbose");
        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.ErrorLines);
        Assert.Contains("   at ", result.Err);
    }

    /// <summary>
    /// Over random values of train's numeric options (in and out of range, at the edges) with a data
    /// spec that does not exist, the command never starts work: it exits 2 with exactly one error line
    /// and no stack trace, naming an out-of-range option whenever there is one, else the data spec.
    /// </summary>
    [Property(MaxTest = 60)]
    public Property Train_validates_any_option_values_before_work()
    {
        var ints = Gen.OneOf(Gen.Elements(-1, 0, 1, 2, int.MaxValue, int.MinValue), Gen.Choose(-100, 300));
        var doubles = Gen.OneOf(Gen.Elements(-1.0, 0.0, 1e-9, 1.0, double.NaN, double.PositiveInfinity), Gen.Choose(-100, 100).Select(v => v / 10.0));
        var cases =
            from batch in ints
            from seq in ints
            from steps in ints
            from keep in ints
            from lr in doubles
            from clip in doubles
            select (batch, seq, steps, keep, lr, clip);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var missing = Path.Combine(Path.GetTempPath(), "openmoe-no-such-data-" + Guid.NewGuid().ToString("N"));
            string F(double d) => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            var result = CliRunner.Invoke("train", "--data", missing, "--out", Path.Combine(missing, "run"),
                "--batch", $"{c.batch}", "--seq", $"{c.seq}", "--steps", $"{c.steps}", "--keep-checkpoints", $"{c.keep}", "--lr", F(c.lr), "--clip", F(c.clip));
            var bad = new List<string>();
            if (c.batch < 1 || c.batch > 1 << 20) bad.Add("--batch");
            if (c.seq < 1) bad.Add("--seq");
            if (c.steps < 1) bad.Add("--steps");
            if (c.keep < 0) bad.Add("--keep-checkpoints");
            if (!(double.IsFinite(c.lr) && c.lr > 0)) bad.Add("--lr");
            if (!(double.IsFinite(c.clip) && c.clip >= 0)) bad.Add("--clip");
            var line = result.ErrorLines.SingleOrDefault() ?? "";
            // Options that parse correctly but do not fit the spec (a --seq past the context, a batch past memory) are named too.
            bool named = bad.Count > 0 ? bad.Any(o => line.Contains(o, StringComparison.Ordinal))
                : line.Contains(missing, StringComparison.Ordinal) || line.Contains("--seq", StringComparison.Ordinal) || line.Contains("--batch", StringComparison.Ordinal);
            return (result.ExitCode == 2 && result.ErrorLines.Length == 1 && named && !result.Err.Contains("   at ", StringComparison.Ordinal)
                    && !Directory.Exists(missing))
                .Label(result.ToString());
        });
    }
}
