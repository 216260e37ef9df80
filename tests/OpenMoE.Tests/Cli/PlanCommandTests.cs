using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Cli;

/// <summary><c>openmoe plan</c> and the up-front refusal of runs that cannot fit.</summary>
public sealed class PlanCommandTests
{
    [Fact]
    public void Plan_for_34B_inference_in_bf16_on_an_H200_fits_and_says_by_how_much()
    {
        var result = CliRunner.Invoke("plan", "--spec", "OpenMoE-34B/32E", "--precision", "bf16", "--seq", "2048", "--device", "cuda", "--device-memory", "141GB");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("weights                     86.19 GiB", result.Out, StringComparison.Ordinal); // 46,270,737,408 x 2 B
        Assert.Matches(@"fits, with \d+\.\d\d GiB to spare", result.Out);
    }

    [Fact]
    public void Plan_for_training_lists_gradients_optimizer_state_and_activations()
    {
        var result = CliRunner.Invoke("plan", "--spec", "OpenMoE-Tiny", "--train", "--optimizer", "adamw", "--batch", "4", "--seq", "64", "--device", "cpu");
        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var item in new[] { "weights", "gradients", "optimizer state (adamw)", "activations", "runtime", "total", "available on the device" })
            Assert.Contains(item, result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(32)]
    public void Plan_of_one_expert_parallel_rank_counts_its_share_of_the_experts(int ranks)
    {
        var spec = OpenMoE.Model.Specs.ModelSpecs.Find("OpenMoE-8B/32E");
        // Derived from the parameter table by role, not by the planner's own walk: every rank holds all
        // replicated parameters and 1/E of the routed experts' ones.
        long experts = spec.Parameters.Where(OpenMoE.Model.Parallel.ExpertTensors.IsRoutedExpert).Sum(p => p.Elements);
        long expected = spec.TotalParams - experts + experts / ranks;
        var result = CliRunner.Invoke("plan", "--spec", spec.Name, "--precision", "bf16", "--expert-parallel", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--device", "cuda", "--device-memory", "80GB");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{expected:N0} parameters of one of {ranks} expert-parallel ranks x 2 B", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expert_parallel_size_that_does_not_divide_the_experts_is_one_error_line()
    {
        var result = CliRunner.Invoke("plan", "--spec", "OpenMoE-8B/32E", "--expert-parallel", "3", "--device", "cuda", "--device-memory", "80GB");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("error: --expert-parallel 3 does not divide the 32 experts of OpenMoE-8B/32E; use a divisor of 32.", Assert.Single(result.ErrorLines));
    }

    [Theory]
    [InlineData("--device-memory", "lots", "--device-memory 'lots'")]
    [InlineData("--device-memory", "-5GB", "--device-memory '-5GB'")]
    [InlineData("--precision", "fp8", "--precision")]
    [InlineData("--spec", "OpenMoE-Nope", "OpenMoE-Nope")]
    public void Bad_plan_options_are_one_error_line_with_exit_code_2(string option, string value, string mention)
    {
        string[] args = option == "--spec" ? ["plan", "--spec", value] : ["plan", "--spec", "OpenMoE-Tiny", option, value];
        var result = CliRunner.Invoke(args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(mention, Assert.Single(result.ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public void Kv_cache_does_not_combine_with_train()
    {
        var result = CliRunner.Invoke("plan", "--spec", "OpenMoE-Tiny", "--train", "--kv-cache", "64");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--kv-cache", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public void Planning_for_cuda_needs_a_gpu_or_its_size()
    {
        var result = CliRunner.Invoke("plan", "--spec", "OpenMoE-Tiny", "--device", "cuda");
        if (CudaPresent())
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("cuda:", result.Out, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("pass --device-memory SIZE", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        }
    }

    private static bool CudaPresent()
    {
        try
        {
            using var device = DeviceFactory.Create(DeviceKind.Cuda);
            return true;
        }
        catch (DeviceUnavailableException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("train", "--data", "CORPUS", "--out", "OUT", "--steps", "1")]
    [InlineData("eval", "--init-seed", "1", "--token-ids", "IDS")]
    public void A_run_that_cannot_fit_is_refused_up_front_with_the_plan(params string[] args)
    {
        var root = Directory.CreateTempSubdirectory("openmoe-plan-refusal-").FullName;
        try
        {
            string ids = Path.Combine(root, "ids.txt");
            File.WriteAllText(ids, "1 2 3 4\n");
            string output = Path.Combine(root, "run");
            var line = args.Select(a => a switch { "CORPUS" => RepositoryFiles.PathOf("data/corpus"), "OUT" => output, "IDS" => ids, _ => a })
                .Concat(["--spec", "OpenMoE-34B/32E", "--device", "cpu"]).ToArray();
            var result = CliRunner.Invoke(line);
            Assert.True(result.ExitCode == 2, result.ToString());
            var error = Assert.Single(result.ErrorLines);
            Assert.Contains("OpenMoE-34B/32E needs about", error, StringComparison.Ordinal);
            Assert.Contains("openmoe plan --spec OpenMoE-34B/32E", error, StringComparison.Ordinal);
            Assert.Contains("does not fit", result.Err, StringComparison.Ordinal);   // the table above the error line
            Assert.False(Directory.Exists(output), "a refused run leaves no run folder");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
