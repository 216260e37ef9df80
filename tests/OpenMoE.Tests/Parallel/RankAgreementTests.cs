using OpenMoE.Runtime.Communication;

namespace OpenMoE.Tests.Parallel;

/// <summary>Mismatched spec, seed or options across ranks are found at start-up, on every rank, naming the setting and each rank's value.</summary>
public class RankAgreementTests
{
    [Fact]
    public void Ranks_with_the_same_settings_pass()
    {
        var results = new ThreadedCommunicators(3).Run(c =>
        {
            RankAgreement.Require(c, [("--spec", "OpenMoE-Tiny"), ("--seed", "1")]);
            return true;
        });
        Assert.All(results, Assert.True);
    }

    [Fact]
    public void A_rank_with_another_seed_fails_every_rank_naming_the_seed_and_the_values()
    {
        var messages = new ThreadedCommunicators(2).Run(c =>
        {
            var e = Assert.Throws<CommunicatorException>(() =>
                RankAgreement.Require(c, [("--spec", "OpenMoE-Tiny"), ("--seed", c.Rank == 1 ? "7" : "1"), ("--expert-parallel", "2")]));
            return e.Message;
        });
        foreach (string message in messages)
        {
            Assert.Contains("--seed (rank 0: 1, rank 1: 7)", message);
            Assert.DoesNotContain("--spec", message);
            Assert.DoesNotContain("--expert-parallel", message);
        }
    }
}
