using System.Globalization;
using System.Text.Json;
using OpenMoE.Tests.Checkpoints;
using OpenMoE.Tests.Cli;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// <c>mpiexec -n 2 openmoe train|generate ...</c> on MPICH: one progress display and one metrics log,
/// a run moved from two ranks to one process and back continuing as one process would, data
/// parallelism from the command line, and generation that picks the tokens one process picks.
/// </summary>
[Collection(MpiJob.Collection)]
public class MpiTrainingCliTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(240);
    // The ranks' gradients are sums of per-rank parts (ParallelTrainingTests): losses agree to rounding.
    private const double LossTolerance = 1e-5;

    private static string[] Train(string run, int steps, params string[] more) =>
        ["train", "--spec", "OpenMoE-Tiny", "--objective", "causal", "--steps", steps.ToString(CultureInfo.InvariantCulture), "--batch", "4", "--seq", "32",
            "--warmup", "2", "--lr", "0.003", "--checkpoint-every", "2", "--seed", "9", "--data", RepositoryFiles.PathOf("data/corpus"), "--out", run, .. more];

    private static (int ExitCode, string Output) TwoRanks(params string[] args)
    {
        var (code, output, _) = MpiJob.RunMpiexec(Limit, ["-n", "2", "dotnet", MpiJob.CliDll(), .. args]);
        return (code, output);
    }

    private static List<JsonElement> Metrics(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(line => JsonDocument.Parse(line).RootElement).ToList();

    [Fact]
    public void A_two_rank_run_moves_to_one_process_and_back_and_matches_one_process()
    {
        using var temp = new TempFolder();
        string straight = temp.Sub("straight"), moved = temp.Sub("moved");
        var single = CliRunner.Invoke(Train(straight, 6));
        Assert.True(single.ExitCode == 0, single.ToString());

        var (code, output) = TwoRanks(Train(moved, 2, "--expert-parallel", "2"));
        Assert.True(code == 0, output);
        Assert.Equal(1, output.Split("done: step 2").Length - 1);   // rank 0 alone reports
        var resumed = CliRunner.Invoke(Train(moved, 4, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed at step 2", resumed.Out);
        (code, output) = TwoRanks(Train(moved, 6, "--resume", "--expert-parallel", "2"));
        Assert.True(code == 0, output);
        Assert.Contains("resumed at step 4", output);

        var expected = Metrics(straight);
        var actual = Metrics(moved);
        Assert.Equal(expected.Select(m => m.GetProperty("step").GetInt64()), actual.Select(m => m.GetProperty("step").GetInt64()));
        for (int i = 0; i < expected.Count; i++)
        {
            double want = expected[i].GetProperty("loss").GetDouble(), got = actual[i].GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(got - want) <= LossTolerance, $"step {i + 1}: loss {got} after moving between layouts vs {want} in one process");
        }
        // The two-rank steps (1-2 and 5-6) carry each rank's tokens and traffic; the single-process ones none.
        foreach (int i in new[] { 0, 1, 4, 5 })
        {
            var ranks = actual[i].GetProperty("ranks").EnumerateArray().ToArray();
            Assert.Equal([0, 1], ranks.Select(r => r.GetProperty("rank").GetInt32()));
            Assert.All(ranks, r => Assert.Equal(2 * 32, r.GetProperty("tokens").GetInt64()));
            Assert.All(ranks, r => Assert.True(r.GetProperty("bytes_sent").GetInt64() > 0));
        }
        Assert.False(actual[2].TryGetProperty("ranks", out _));
    }

    [Fact]
    public void Two_data_parallel_replicas_train_from_the_command_line()
    {
        using var temp = new TempFolder();
        string run = temp.Sub("dp");
        var (code, output) = TwoRanks(Train(run, 2, "--data-parallel", "2", "--optimizer", "adamw"));
        Assert.True(code == 0, output);
        Assert.Contains("2 ranks", output);
        // The start-up line that maps MPICH's PIDs (all it names when a rank is killed) to ranks.
        Assert.Matches(@"rank 0 = pid \d+, rank 1 = pid \d+", output);
        var metrics = Metrics(run);
        Assert.Equal(2, metrics.Count);
        // Replicas exchange no tokens; each trains on half of the batch.
        Assert.All(metrics, m => Assert.All(m.GetProperty("ranks").EnumerateArray(), r =>
        {
            Assert.Equal(2 * 32, r.GetProperty("tokens").GetInt64());
            Assert.Equal(0, r.GetProperty("bytes_sent").GetInt64());
        }));
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoints", "step-00000002")));
    }

    [Theory]
    [InlineData("0")]      // greedy
    [InlineData("1.0")]    // sampled: the same seed draws the same tokens from the same logits
    public void Two_rank_generation_picks_the_tokens_one_process_picks(string temperature)
    {
        string[] args = ["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "3", "--prompt-ids", "1 5 9 200", "--max-new-tokens", "12",
            "--temperature", temperature, "--seed", "4"];
        var single = CliRunner.Invoke(args);
        Assert.True(single.ExitCode == 0, single.ToString());
        var (code, output) = TwoRanks([.. args, "--expert-parallel", "2"]);
        Assert.True(code == 0, output);
        string NewIds(string text) => Assert.Single(text.Split('\n'), line => line.StartsWith("new ids:", StringComparison.Ordinal)).Trim();
        Assert.Equal(NewIds(single.Out), NewIds(output));
    }

    [Fact]
    public void Ranks_that_do_not_multiply_to_the_job_are_one_error_line_and_exit_2()
    {
        using var temp = new TempFolder();
        var result = CliRunner.Invoke(Train(temp.Sub("run"), 2, "--expert-parallel", "2", "--data-parallel", "2"));
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --expert-parallel 2 x --data-parallel 2 needs 4 MPI ranks; start the command with mpiexec -n 4 (MPICH: docs/parallelism.md).",
            Assert.Single(result.ErrorLines));
        Assert.False(Directory.Exists(temp.Sub("run")));
    }
}
