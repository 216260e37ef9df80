using OpenMoE.Cli;

namespace OpenMoE.Tests.Routing;

/// <summary><c>--routing</c>, <c>--record-routing</c> and <c>--replay-routing</c> through the command line (exit codes: 0 ok, 2 user error).</summary>
public class RoutingCliTests
{
    [Fact]
    public void Eval_records_and_replays_routing_and_rejects_another_batch_and_bad_rules()
    {
        string ids = Path.GetTempFileName(), recording = Path.GetTempFileName();
        File.WriteAllText(ids, string.Join(' ', Enumerable.Range(0, 64).Select(i => i * 7 % 512)) + "\n");
        string[] eval = ["eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--token-ids", ids, "--batch", "2"];
        Assert.Equal(0, Program.Main([.. eval, "--seq", "32", "--record-routing", recording]));
        Assert.Equal(0, Program.Main([.. eval, "--seq", "32", "--replay-routing", recording, "--capacity-factor", "0.5"]));
        Assert.Equal(2, Program.Main([.. eval, "--seq", "16", "--replay-routing", recording]));
        Assert.Equal(2, Program.Main([.. eval, "--seq", "32", "--replay-routing", ids]));
        Assert.Equal(0, Program.Main([.. eval, "--seq", "32", "--routing", "expert-choice"]));
        Assert.Equal(0, Program.Main([.. eval, "--seq", "32", "--routing", "aux-free,groups=4/2,drop=probability"]));
        Assert.Equal(2, Program.Main([.. eval, "--seq", "32", "--routing", "groups=3/1"]));
        Assert.Equal(2, Program.Main([.. eval, "--seq", "32", "--routing", "no-such-rule"]));
        Assert.Equal(2, Program.Main(["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--prompt", "Hi",
            "--max-new-tokens", "2", "--routing", "expert-choice"]));
        Assert.Equal(0, Program.Main(["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--prompt", "Hi",
            "--max-new-tokens", "2", "--routing", "aux-free"]));
    }
}
