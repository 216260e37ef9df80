using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.Training;

/// <summary>
/// The training network's router gradient under the rules the double-precision reference backward does not
/// model (sigmoid scores with a bias and groups, expert choice, by-probability dropping), against a central
/// difference of the training loss along the gradient. The routing is held fixed by replaying the step's own
/// recording, as the backward assumes, so the difference measures the same function.
/// </summary>
public class RoutingRuleGradientTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    private static readonly ModelSpecInfo Tiny = ModelSpecs.Find("OpenMoE-Tiny");

    [Theory]
    [InlineData(null)]
    [InlineData("aux-free,groups=4/2")]
    [InlineData("expert-choice")]
    [InlineData("by-probability")]
    public void Router_gradient_equals_a_central_difference_of_the_loss(string? routing)
    {
        var weights = ReferenceWeights.Random(Tiny.Config, 9);
        // Experts 4x their initial scale: their outputs, and with them the cross-entropy's gradient through the
        // combine weights into the router scores, stand well above the fp32 noise of the loss.
        float[] Load(ParameterInfo p) => p.Role is ParameterRole.ExpertGate or ParameterRole.ExpertUp or ParameterRole.ExpertDown
            ? weights.ToFloats(p.Name).Select(w => 4 * w).ToArray()
            : weights.ToFloats(p.Name);
        using var network = new TrainingNetwork(fixture.Device, Tiny, DeviceWeights.Load(fixture.Device, Tiny, Load))
        {
            // The load-balancing loss far above OpenMoE's weight, so its gradient is part of what is checked; no z-loss, whose
            // gradient (the softmax of the logits under every rule) would drown the score backward this test is about.
            LossWeights = new RouterLossWeights(LoadBalancing: 1.0, ZLoss: 0.0),
        };
        network.Model.RoutingOverride = routing is null ? null : RoutingOverride.Parse(routing);
        foreach (var bias in network.Model.ExpertBias.Values)
            for (int e = 0; e < bias.Length; e++)
                bias[e] = (e % 3 - 1) / 16f;
        var random = new Random(2);
        var inputs = Enumerable.Range(0, 2 * 16).Select(_ => random.Next(Tiny.Config.Vocab)).ToArray();
        var targets = inputs.Skip(1).Append(-1).ToArray();

        network.RecordRouting = new RoutingRecorder();
        network.ForwardBackward(inputs, targets, 2, capacityFactor: 1.0);
        var recording = network.RecordRouting.ToRecording(Tiny.Name, Tiny.SpecHash);
        network.RecordRouting = null;
        var router = Tiny.Parameters.First(p => p.Role == ParameterRole.Router);
        var gradient = network.Gradients.Download(router);
        var original = network.Weights.Download(router);
        double norm = Math.Sqrt(gradient.Sum(g => (double)g * g));
        Assert.True(norm > 0);

        double LossAt(double step)
        {
            var moved = original.Select((w, i) => (float)(w + step * gradient[i] / norm)).ToArray();
            network.Weights[router].CopyFromCPU(moved);
            network.ReplayRouting = new RoutingReplay(recording, Tiny.Name, Tiny.SpecHash);
            return network.ForwardBackward(inputs, targets, 2, capacityFactor: 1.0).Total;
        }
        const double h = 0.05;
        double numeric = (LossAt(h) - LossAt(-h)) / (2 * h);
        network.Weights[router].CopyFromCPU(original);
        // The directional derivative along the gradient is its norm, up to fp32 noise of the losses and curvature
        // over h: within a percent (measured: 0.2 %); a wrong score backward misses by tens of percent.
        Assert.True(Math.Abs(numeric - norm) <= 0.01 * norm, $"{routing ?? "spec"}: central difference {numeric}, gradient norm {norm}");
    }
}
