using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Kernels.Backward;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The router's score backward reference (the twin the selftest compares the kernel with) against
/// central differences of L(logits) = sum_r dw_r * w_r(logits), for softmax and sigmoid scores, raw and
/// renormalised weights: the choices are held fixed, as in training.
/// </summary>
public class RouterScoreBackwardTests
{
    [Property(MaxTest = 200)]
    public void Score_backward_equals_central_differences(PositiveInt seed, bool sigmoid, bool renormalized)
    {
        var random = new Random(seed.Get);
        int e = 2 + random.Next(7), k = 1 + random.Next(e);
        var logits = Enumerable.Range(0, e).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        var choices = Enumerable.Range(0, e).OrderBy(_ => random.Next()).Take(k).ToArray();
        var dWeights = Enumerable.Range(0, k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        double[] Scores(double[] l)
        {
            if (sigmoid)
                return l.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
            double max = l.Max(), sum = l.Sum(v => Math.Exp(v - max));
            return l.Select(v => Math.Exp(v - max) / sum).ToArray();
        }
        double Loss(double[] l)
        {
            var s = Scores(l);
            double total = choices.Sum(c => s[c]);
            return Enumerable.Range(0, k).Sum(r => dWeights[r] * (renormalized ? s[choices[r]] / total : s[choices[r]]));
        }

        var analytic = new float[e];
        MoeBackward.RouterSoftmaxReference(Scores(logits).Select(v => (float)v).ToArray(), choices, dWeights, analytic, 1, e, k, renormalized, sigmoid);
        const double h = 1e-5;
        for (int x = 0; x < e; x++)
        {
            var up = (double[])logits.Clone();
            var down = (double[])logits.Clone();
            up[x] += h;
            down[x] -= h;
            double numeric = (Loss(up) - Loss(down)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[x]) <= 1e-5 + 1e-4 * Math.Abs(numeric), $"dL/dl[{x}]: numeric {numeric}, backward {analytic[x]}");
        }
    }
}
