using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class FindingsTests
{
    private static TokenSpecializationLayer Spread(double token, double baseline, double position) =>
        new(1, 8, 10, token, token, baseline, position, position, 0.05, [], []);

    private static DropAnalysis Drops(bool dropless, params DropDataSet[] sets) => new(dropless, "T5x", 1.25, 4, 2048, 320, 2, sets);

    private static DropDataSet Set(string name, double first, double last) => new(name, 100, (first + last) / 2, [first, last], []);

    private static EarlyLearning Early(params (long Step, double Agreement, double Chance)[] checkpoints) =>
        new(true, checkpoints.Select((c, i) => new AgreementPoint(i, $"step {c.Step}", c.Step, 1, c.Agreement, c.Chance, c.Agreement)).ToArray(), []);

    private static IReadOnlyList<Finding> All(TokenSpecializationLayer spread, EarlyLearning early, DropAnalysis drops) =>
        Findings.From([spread], early, drops, "instruction");

    private static readonly EarlyLearning None = new(false, [], []);

    [Theory]
    [InlineData(0.9, 0.2, 0.3, Findings.Reproduces)]
    [InlineData(0.9, 0.2, 0.7, Findings.DoesNotReproduce)]   // position spread too close
    [InlineData(0.3, 0.2, 0.1, Findings.DoesNotReproduce)]   // within twice the random baseline
    public void Specialization_verdict_follows_the_stated_rule(double token, double baseline, double position, string verdict)
    {
        var finding = All(Spread(token, baseline, position), None, Drops(false, Set("p", 0.1, 0.2)))[0];
        Assert.Equal(verdict, finding.Verdict);
        Assert.Contains(token.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), finding.Summary);
    }

    [Fact]
    public void Early_learning_uses_the_last_checkpoint_within_the_first_half_of_training()
    {
        var reproduces = All(Spread(0.9, 0.1, 0.1), Early((100, 0.3, 0.2), (500, 0.8, 0.2), (1000, 1, 0.2)), Drops(true))[1];
        Assert.Equal(Findings.Reproduces, reproduces.Verdict);
        Assert.Contains("At step 500 of 1000 (50% of training), 80.0%", reproduces.Summary);

        var late = All(Spread(0.9, 0.1, 0.1), Early((500, 0.4, 0.2), (1000, 1, 0.2)), Drops(true))[1];
        Assert.Equal(Findings.DoesNotReproduce, late.Verdict);
        Assert.Equal(Findings.NotMeasured, All(Spread(0.9, 0.1, 0.1), None, Drops(true))[1].Verdict);
        Assert.Equal(Findings.NotMeasured, All(Spread(0.9, 0.1, 0.1), Early((800, 0.9, 0.1), (1000, 1, 0.1)), Drops(true))[1].Verdict);
    }

    [Fact]
    public void Drop_verdict_needs_a_late_rise_and_more_drops_on_instruction_data()
    {
        Finding Drop(DropAnalysis drops) => All(Spread(0.9, 0.1, 0.1), None, drops)[2];
        Assert.Equal(Findings.Reproduces, Drop(Drops(false, Set("p", 0.1, 0.3), Set("instruction", 0.1, 0.4))).Verdict);
        Assert.Equal(Findings.Partly, Drop(Drops(false, Set("p", 0.1, 0.3), Set("instruction", 0.1, 0.2))).Verdict);
        Assert.Equal(Findings.DoesNotReproduce, Drop(Drops(false, Set("p", 0.3, 0.1), Set("instruction", 0.1, 0.05))).Verdict);
        Assert.Equal(Findings.NotMeasured, Drop(Drops(false, Set("p", 0, 0), Set("instruction", 0, 0))).Verdict);
        Assert.Contains("dropless", Drop(Drops(true, Set("p", 0, 0))).Summary);
        Assert.Contains("no 'instruction' domain", Drop(Drops(false, Set("p", 0.1, 0.3))).Summary);
    }
}
