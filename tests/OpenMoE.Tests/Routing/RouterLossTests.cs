using FsCheck;
using FsCheck.Xunit;
using OpenMoE.Model.Routing;

namespace OpenMoE.Tests.Routing;

[Properties(Arbitrary = new[] { typeof(RoutingArbitraries) }, MaxTest = 200)]
public class RouterLossTests
{
    [Property]
    public void Load_balancing_loss_is_invariant_to_relabelling_experts(RoutingCase c, int seed)
    {
        var relabel = Enumerable.Range(0, c.Experts).ToArray();
        new Random(seed).Shuffle(relabel);
        var logits = c.Logits.Select(v => (double)v).ToArray();
        var choices = c.Route().Expert;
        var relabelledLogits = new double[logits.Length];
        for (int t = 0; t < c.Tokens; t++)
            for (int e = 0; e < c.Experts; e++)
                relabelledLogits[t * c.Experts + relabel[e]] = logits[t * c.Experts + e];
        var relabelledChoices = choices.Select(e => relabel[e]).ToArray();
        int group = c.Options.TokensPerGroup(c.Tokens);
        double before = RouterLosses.LoadBalancing(logits, choices, c.Tokens, c.Experts, c.TopK, group, Span<double>.Empty);
        double after = RouterLosses.LoadBalancing(relabelledLogits, relabelledChoices, c.Tokens, c.Experts, c.TopK, group, Span<double>.Empty);
        Assert.Equal(before, after, 1e-12);
    }

    [Property]
    public void Load_balancing_loss_of_uniform_probabilities_is_k(RoutingCase c)
    {
        var zeros = new double[c.Tokens * c.Experts];
        var choices = ReferenceRouter.Route(new float[zeros.Length], c.Tokens, c.Options).Expert;
        double loss = RouterLosses.LoadBalancing(zeros, choices, c.Tokens, c.Experts, c.TopK, c.Options.TokensPerGroup(c.Tokens), Span<double>.Empty);
        Assert.Equal(c.TopK, loss, 1e-12);
    }

    /// <summary>
    /// Confident routing: each token puts logit L on its K experts and 0 elsewhere. Then
    /// loss = E * ((p_in - p_out) * sum_e f_e^2 + p_out * K), smallest exactly when every expert
    /// gets the same share K/E. The balanced batch below is token t choosing (t*K + j) mod E.
    /// </summary>
    [Property(MaxTest = 300)]
    public void Load_balancing_loss_of_confident_routing_is_minimal_when_balanced(PositiveInt experts, PositiveInt topK, PositiveInt copies, byte level, int seed)
    {
        int e = 1 + experts.Get % 8, k = 1 + topK.Get % e, n = e * (1 + copies.Get % 4);
        double confidence = 0.5 + level % 16;
        var random = new Random(seed);
        var randomChoices = Enumerable.Range(0, n).SelectMany(_ => Enumerable.Range(0, e).OrderBy(_ => random.Next()).Take(k)).ToArray();
        var balancedChoices = Enumerable.Range(0, n * k).Select(a => a % e).ToArray();
        double Loss(int[] choices)
        {
            var logits = new double[n * e];
            for (int a = 0; a < choices.Length; a++)
                logits[a / k * e + choices[a]] = confidence;
            return RouterLosses.LoadBalancing(logits, choices, n, e, k, n, Span<double>.Empty);
        }
        double balanced = Loss(balancedChoices);
        Assert.True(Loss(randomChoices) >= balanced - 1e-12, $"random routing {Loss(randomChoices)} < balanced {balanced}");
        double pIn = Math.Exp(confidence) / (k * Math.Exp(confidence) + e - k), pOut = 1.0 / (k * Math.Exp(confidence) + e - k);
        Assert.Equal(e * ((pIn - pOut) * k * k / e + pOut * k), balanced, 1e-12);
    }

    [Property(MaxTest = 300)]
    public void Z_loss_of_all_zero_logits_is_ln_E_squared(PositiveInt tokens, PositiveInt experts)
    {
        int n = tokens.Get % 50 + 1, e = experts.Get % 64 + 1;
        double loss = RouterLosses.ZLoss(new double[n * e], n, e, Span<double>.Empty);
        Assert.Equal(Math.Log(e) * Math.Log(e), loss, 1e-12);
    }

    [Property(MaxTest = 100)]
    public void Load_balancing_and_z_loss_gradients_match_finite_differences(RoutingCase c, int seed)
    {
        var random = new Random(seed);
        var logits = c.Logits.Select(v => v + (random.NextDouble() - 0.5) * 0.1).ToArray();
        var choices = c.Route().Expert;
        int group = c.Options.TokensPerGroup(c.Tokens);
        double scaleLb = 0.5 + random.NextDouble(), scaleZ = 0.5 + random.NextDouble();
        var grad = new double[logits.Length];
        RouterLosses.LoadBalancing(logits, choices, c.Tokens, c.Experts, c.TopK, group, grad, scaleLb);
        RouterLosses.ZLoss(logits, c.Tokens, c.Experts, grad, scaleZ);
        double Total(double[] l) =>
            scaleLb * RouterLosses.LoadBalancing(l, choices, c.Tokens, c.Experts, c.TopK, group, Span<double>.Empty) +
            scaleZ * RouterLosses.ZLoss(l, c.Tokens, c.Experts, Span<double>.Empty);
        const double h = 1e-5;
        foreach (int i in Enumerable.Range(0, 12).Select(_ => random.Next(logits.Length)))
        {
            var plus = (double[])logits.Clone();
            var minus = (double[])logits.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (Total(plus) - Total(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) <= 1e-7 + 1e-5 * Math.Abs(numeric), $"logit {i}: analytic {grad[i]} vs numeric {numeric}");
        }
    }

    [Fact]
    public void Router_losses_average_over_moe_layers_then_weigh_with_openmoe_defaults()
    {
        var weights = new RouterLossWeights();
        var (lb, z, total) = weights.Combine([(2.0, 10.0), (4.0, 30.0)]);
        Assert.Equal((3.0, 20.0), (lb, z));
        Assert.Equal(0.01 * 3.0 + 1e-4 * 20.0, total, 1e-15);
        Assert.Equal(0.01 / 4, weights.LoadBalancingGradientScale(4));
        Assert.Equal(1e-4 / 4, weights.ZLossGradientScale(4));
    }

    [Fact]
    public void Load_balancing_loss_follows_flaxformer_for_a_hand_computed_batch()
    {
        // Two tokens, E = 2, K = 1, token 0 chooses expert 0 and token 1 expert 1 (each its favourite).
        double[] logits = [1, 0, 0, 1];
        double p = Math.Exp(1) / (Math.Exp(1) + 1);
        // One group: f = (1/2, 1/2), P = (1/2, 1/2): E * sum f*P = 1.
        Assert.Equal(1.0, RouterLosses.LoadBalancing(logits, [0, 1], 2, 2, 1, 2, Span<double>.Empty), 1e-15);
        // Two groups of one token: each group's loss is E * p(chosen) = 2p, averaged over groups.
        Assert.Equal(2 * p, RouterLosses.LoadBalancing(logits, [0, 1], 2, 2, 1, 1, Span<double>.Empty), 1e-15);
    }
}
