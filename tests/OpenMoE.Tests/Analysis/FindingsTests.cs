using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class FindingsTests
{
    // An interval of +-0.01 around the value.
    private static Interval Around(double value) => new(value, value - 0.01, value + 0.01);

    private static ControlledFigure Figure(string key, double trained, double untrained, double? uniform = null) =>
        new(key, key, Around(trained), Around(untrained), Around(trained), uniform);

    private static List<ControlledFigure> Specialization(double token, double untrainedToken, double baseline, double position) =>
        [Figure(ControlledFigures.TokenSpread, token, untrainedToken, baseline), Figure(ControlledFigures.PositionSpread, position, position)];

    private static DropAnalysis Drops(bool dropless, params DropDataSet[] sets) => new(dropless, "T5x", 1.25, 4, 2048, 320, 2, sets);

    private static DropDataSet Set(string name, double first, double last) => new(name, 100, (first + last) / 2, [first, last], []);

    private static EarlyLearning Early(long earlyStep, long finalStep) => new(true,
        [new AgreementPoint(0, "early", earlyStep, 1, 0, 0, 0, 0), new AgreementPoint(1, "final", finalStep, 1, 1, 0, 1, 1)], [], 0);

    private static readonly EarlyLearning None = new(false, [], [], null);

    private static IReadOnlyList<Finding> All(IEnumerable<ControlledFigure> figures, EarlyLearning early, DropAnalysis drops) =>
        Findings.From(figures.Append(Figure(ControlledFigures.DropRise, 0.1, 0)).ToArray(), early, drops, "instruction");

    [Theory]
    [InlineData(0.9, 0.5, 0.2, 0.3, Findings.Reproduces)]
    [InlineData(0.9, 0.95, 0.2, 0.3, Findings.DoesNotReproduce)]   // an untrained model is as specialised: not learned
    [InlineData(0.9, 0.895, 0.2, 0.3, Findings.DoesNotReproduce)]  // intervals overlap
    [InlineData(0.9, 0.5, 0.2, 0.7, Findings.DoesNotReproduce)]    // position spread too close
    [InlineData(0.3, 0.1, 0.2, 0.1, Findings.DoesNotReproduce)]    // within twice the random baseline
    public void Specialization_verdict_follows_the_stated_rule(double token, double untrained, double baseline, double position, string verdict)
    {
        var finding = All(Specialization(token, untrained, baseline, position), None, Drops(true))[0];
        Assert.Equal(verdict, finding.Verdict);
        Assert.Contains(token.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), finding.Summary);
        Assert.Contains(untrained.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), finding.Summary);
    }

    [Theory]
    [InlineData(0.8, 0.2, 0.2, Findings.Reproduces)]
    [InlineData(0.8, 0.85, 0.2, Findings.DoesNotReproduce)]   // the initialisation already agrees as much
    [InlineData(0.4, 0.1, 0.1, Findings.DoesNotReproduce)]    // below 50%
    [InlineData(0.6, 0.1, 0.4, Findings.DoesNotReproduce)]    // below twice chance
    public void Early_learning_needs_agreement_beyond_the_untrained_initialisation(double agreement, double untrained, double chance, string verdict)
    {
        var figures = Specialization(0.9, 0.5, 0.1, 0.1).Append(Figure(ControlledFigures.EarlyAgreement, agreement, untrained, chance));
        var finding = All(figures, Early(500, 1000), Drops(true))[1];
        Assert.Equal(verdict, finding.Verdict);
        Assert.Contains("At step 500 of 1000 (50% of training)", finding.Summary);
        Assert.Equal(Findings.NotMeasured, All(Specialization(0.9, 0.5, 0.1, 0.1), None, Drops(true))[1].Verdict);
    }

    [Fact]
    public void Drop_verdict_needs_both_parts_beyond_the_untrained_control()
    {
        Finding Drop(double rise, double untrainedRise, double excess, double untrainedExcess, DropAnalysis drops) => Findings.From(
            [.. Specialization(0.9, 0.5, 0.1, 0.1), Figure(ControlledFigures.DropRise, rise, untrainedRise),
             Figure(ControlledFigures.InstructionExcess, excess, untrainedExcess)], None, drops, "instruction")[2];
        var sets = Drops(false, Set("p", 0.1, 0.3), Set("instruction", 0.1, 0.4));
        Assert.Equal(Findings.Reproduces, Drop(0.2, 0.05, 0.1, 0, sets).Verdict);
        Assert.Equal(Findings.Partly, Drop(0.2, 0.05, 0.1, 0.1, sets).Verdict);
        Assert.Equal(Findings.Partly, Drop(0.2, 0.3, 0.1, 0, sets).Verdict);       // the untrained model rises more
        Assert.Equal(Findings.DoesNotReproduce, Drop(0.2, 0.3, 0.1, 0.2, sets).Verdict);
        Assert.Equal(Findings.DoesNotReproduce, Drop(0.005, -0.1, 0.005, -0.1, sets).Verdict);   // intervals include 0
        Assert.Equal(Findings.NotMeasured, Drop(0, 0, 0, 0, Drops(false, Set("p", 0, 0), Set("instruction", 0, 0))).Verdict);
        Assert.Contains("dropless", Drop(0, 0, 0, 0, Drops(true, Set("p", 0, 0))).Summary);
        Assert.Contains("no 'instruction' domain", All(Specialization(0.9, 0.5, 0.1, 0.1), None, Drops(false, Set("p", 0.1, 0.3)))[2].Summary);
    }
}
