using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Cli;

namespace OpenMoE.Tests.Parallel;

/// <summary><c>openmoe expert-plan</c> and the numbers behind it, checked against hand-derived ones for OpenMoE-8B/32E.</summary>
public class ExpertParallelPlanTests
{
    [Fact]
    public void OpenMoE_8B_at_E_8_matches_the_hand_computed_plan()
    {
        var spec = ModelSpecs.Find("OpenMoE-8B/32E");
        var plan = new ExpertParallelPlan(spec, 8, TokensPerRank: 4096, CapacityFactor: 1.25, ActivationBytes: 2);
        // 4 MoE layers x 32 experts x (wi_gate D x 2F + wi_up D x F + wo F x D), D = 2048, F = 8192.
        long experts = 4L * 32 * (2048L * 16384 + 2048L * 8192 + 8192L * 2048);
        Assert.Equal(experts, plan.ExpertParameters);
        Assert.Equal(spec.TotalParams - experts, plan.ReplicatedParameters);
        Assert.Equal(spec.TotalParams - experts + experts / 8, plan.ParametersPerRank);
        // T5X capacity keeps at most cf * n = 5120 of the 8192 choices; 7/8 of them leave the rank; bf16 rows of 2048.
        Assert.Equal(5120L * 7 / 8 * 2048 * 2, plan.AllToAllBytes);
        Assert.Equal(4 * (4 * plan.AllToAllBytes + 4096L * 32 * 4 * 7), plan.ExchangeBytesPerStep);
    }

    [Fact]
    public void Plan_prints_both_large_specs_at_every_expert_parallel_size()
    {
        var result = CliRunner.Invoke("expert-plan", "--expert-parallel", "8", "32");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("OpenMoE-8B/32E", result.Out.Replace("\n", "").Replace("│", "").Replace(" ", ""));
        Assert.Contains("NVLink", result.Out);
    }

    [Theory]
    [InlineData("--expert-parallel", "5", "--expert-parallel 5")]
    [InlineData("--spec", "No-Such-Spec", "No-Such-Spec")]
    [InlineData("--tokens-per-rank", "0", "--tokens-per-rank")]
    public void A_bad_plan_input_is_one_error_line_and_exit_2(string option, string value, string named)
    {
        var result = CliRunner.Invoke("expert-plan", option, value);
        Assert.Equal(2, result.ExitCode);
        var error = Assert.Single(result.ErrorLines);
        Assert.Contains(named, error);
    }
}
