using System.Text.Json;
using OpenMoE.Tests.Checkpoints;
using OpenMoE.Tests.Cli;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// <c>mpiexec -n 2 openmoe eval ... --expert-parallel 2</c> against the same command in one process;
/// the start-up checks of the job (rank count, mismatched options across ranks).
/// </summary>
[Collection(MpiJob.Collection)]
public class MpiCliTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);

    private static string TokenIds(TempFolder temp)
    {
        var random = new Random(5);
        string path = temp.Sub("ids.txt");
        File.WriteAllLines(path, Enumerable.Range(0, 5).Select(_ => string.Join(' ', Enumerable.Range(0, 24).Select(_ => random.Next(512)))));
        return path;
    }

    // --batch 1: rank 0 holds no sequence of any batch and only serves its experts; --batch 3: uneven shares (1 and 2).
    [Theory]
    [InlineData("OpenMoE-Tiny", "1")]
    [InlineData("OpenMoE-Tiny", "3")]
    [InlineData("DeepSeekMoE-Tiny", "3")]
    public void Two_rank_eval_reports_what_one_process_reports(string spec, string batch)
    {
        using var temp = new TempFolder();
        string[] args = ["eval", "--spec", spec, "--init-seed", "3", "--token-ids", TokenIds(temp), "--batch", batch, "--json"];
        var single = CliRunner.Invoke(args);
        Assert.True(single.ExitCode == 0, single.ToString());
        var (code, output, _) = MpiJob.RunMpiexec(Limit, ["-n", "2", "dotnet", MpiJob.CliDll(), .. args, "--expert-parallel", "2"]);
        Assert.True(code == 0, output);
        // One report, from rank 0 (the others print nothing).
        int start = output.IndexOf('{'), end = output.LastIndexOf('}');
        Assert.Equal(1, output.Split("\"crossEntropy\"").Length - 1);
        var expected = JsonDocument.Parse(single.Out).RootElement;
        var actual = JsonDocument.Parse(output[start..(end + 1)]).RootElement;
        Assert.Equal(expected.GetProperty("targets").GetInt64(), actual.GetProperty("targets").GetInt64());
        // Per-token logits are bit-equal; the CE sums them in another order (two partial sums).
        Assert.Equal(expected.GetProperty("crossEntropy").GetDouble(), actual.GetProperty("crossEntropy").GetDouble(), 1e-12);
        Assert.Equal(expected.GetProperty("loadBalancingLoss").GetDouble(), actual.GetProperty("loadBalancingLoss").GetDouble());
        Assert.Equal(expected.GetProperty("routerZLoss").GetDouble(), actual.GetProperty("routerZLoss").GetDouble());
        Assert.Equal(expected.GetProperty("dropRatioByLayer").ToString(), actual.GetProperty("dropRatioByLayer").ToString());
        // Per-rank traffic in the two-rank report only; every token held once; bytes are fp32 rows of the hidden width.
        Assert.False(expected.TryGetProperty("ranks", out _));
        var ranks = actual.GetProperty("ranks").EnumerateArray().ToArray();
        Assert.Equal(2, ranks.Length);
        Assert.Equal(5 * 24, ranks.Sum(r => r.GetProperty("tokens").GetInt64()));
        int hidden = OpenMoE.Model.Specs.ModelSpecs.Find(spec).Config.Hidden;
        foreach (var r in ranks)
        {
            Assert.True(r.GetProperty("rowsSent").GetInt64() > 0, "a rank sent no row to the other's experts");
            Assert.Equal(r.GetProperty("rowsSent").GetInt64() * hidden * sizeof(float), r.GetProperty("bytesSent").GetInt64());
        }
        if (batch == "1")
            Assert.Equal(0, ranks[0].GetProperty("tokens").GetInt64());
    }

    [Fact]
    public void Two_rank_eval_of_a_checkpoint_loads_each_rank_s_expert_shard_and_reports_what_one_process_reports()
    {
        // The checkpoint is memory-mapped on the CPU: each rank uses its slice of the stacked expert tensors in place.
        using var temp = new TempFolder();
        string checkpoint = temp.Sub("init");
        var init = CliRunner.Invoke("init", "--spec", "OpenMoE-Tiny", "--init-seed", "5", "--out", checkpoint);
        Assert.True(init.ExitCode == 0, init.ToString());
        string[] args = ["eval", "--weights", checkpoint, "--token-ids", TokenIds(temp), "--batch", "3", "--json"];
        var single = CliRunner.Invoke(args);
        Assert.True(single.ExitCode == 0, single.ToString());
        var (code, output, _) = MpiJob.RunMpiexec(Limit, ["-n", "2", "dotnet", MpiJob.CliDll(), .. args, "--expert-parallel", "2"]);
        Assert.True(code == 0, output);
        Assert.Contains("memory-mapped", output);
        var expected = JsonDocument.Parse(single.Out).RootElement;
        var actual = JsonDocument.Parse(output[output.IndexOf('{')..(output.LastIndexOf('}') + 1)]).RootElement;
        Assert.Equal(expected.GetProperty("crossEntropy").GetDouble(), actual.GetProperty("crossEntropy").GetDouble(), 1e-12);
        Assert.Equal(expected.GetProperty("loadBalancingLoss").GetDouble(), actual.GetProperty("loadBalancingLoss").GetDouble());
        Assert.Equal(expected.GetProperty("dropRatioByLayer").ToString(), actual.GetProperty("dropRatioByLayer").ToString());
    }

    [Fact]
    public void Ranks_started_with_different_seeds_stop_at_start_up_naming_the_option()
    {
        using var temp = new TempFolder();
        string ids = TokenIds(temp);
        string[] Command(string seed) => ["dotnet", MpiJob.CliDll(), "eval", "--spec", "OpenMoE-Tiny", "--init-seed", seed, "--token-ids", ids, "--expert-parallel", "2"];
        var (code, output, _) = MpiJob.RunMpiexec(Limit, ["-n", "1", .. Command("3"), ":", "-n", "1", .. Command("4")]);
        Assert.True(code != 0, output);
        Assert.Contains("The ranks disagree on --init-seed (rank 0: 3, rank 1: 4)", output);
        Assert.DoesNotContain("--spec (", output);
    }

    [Theory]
    [InlineData("2", "needs 2 MPI ranks; start the command with mpiexec -n 2")]
    [InlineData("0", "--expert-parallel")]
    public void Expert_parallel_without_its_ranks_is_one_error_line_and_exit_2(string size, string message)
    {
        using var temp = new TempFolder();
        var result = CliRunner.Invoke("eval", "--spec", "OpenMoE-Tiny", "--init-seed", "3", "--token-ids", TokenIds(temp), "--expert-parallel", size);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, Assert.Single(result.ErrorLines));
    }
}
