using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// Routing replay on the CPU accelerator: a forward that replays its own recording reproduces the logits
/// bit for bit for every rule; a replay forces the recorded decisions over another capacity factor, in
/// evaluation and in training; a recording of another spec or batch is a clear error.
/// </summary>
public class RoutingReplayTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    private static readonly ModelSpecInfo Tiny = ModelSpecs.Find("OpenMoE-Tiny");

    private MoeTransformer Model(int seed = 5)
    {
        var weights = ReferenceWeights.Random(Tiny.Config, seed);
        return new MoeTransformer(fixture.Device, Tiny, DeviceWeights.Load(fixture.Device, Tiny, p => weights.ToFloats(p.Name)));
    }

    private static int[] Tokens(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(Tiny.Config.Vocab)).ToArray();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("by-probability")]
    [InlineData("expert-choice")]
    [InlineData("aux-free,groups=4/2")]
    public void Replaying_a_recording_reproduces_the_logits_bit_for_bit(string? routing)
    {
        using var model = Model();
        model.RoutingOverride = routing is null ? null : RoutingOverride.Parse(routing);
        var bias = model.ExpertBias.Values.First();
        for (int e = 0; e < bias.Length; e++)
            bias[e] = (e % 3 - 1) / 8f; // a bias that changes some choices (read by aux-free only)
        var tokens = Tokens(2 * 16, seed: 1);
        var recorder = new RoutingRecorder();
        var recorded = model.Forward(tokens, 2, new ForwardOptions { CapacityFactor = 1.0, RecordRouting = recorder });
        var replay = new RoutingReplay(recorder.ToRecording(Tiny.Name, Tiny.SpecHash), Tiny.Name, Tiny.SpecHash);
        var replayed = model.Forward(tokens, 2, new ForwardOptions { CapacityFactor = 1.0, ReplayRouting = replay });

        Assert.Equal(recorded.Logits, replayed.Logits);
        Assert.Equal(0, replay.Changed);
        int perLayer = tokens.Length * RoutingOptions.FromConfig(model.RoutingConfig, training: false).TopK;
        Assert.Equal(Tiny.Config.MoeLayers.Count * perLayer, replay.Decisions);
    }

    [Fact]
    public void Replay_forces_the_recorded_decisions_over_another_capacity_factor_and_counts_the_changes()
    {
        using var model = Model();
        var tokens = Tokens(2 * 16, seed: 2);
        var recorder = new RoutingRecorder();
        var roomy = model.Forward(tokens, 2, new ForwardOptions { CapacityFactor = 8, RecordRouting = recorder });
        var tight = model.Forward(tokens, 2, new ForwardOptions { CapacityFactor = 0.25 });
        var replay = new RoutingReplay(recorder.ToRecording(Tiny.Name, Tiny.SpecHash), Tiny.Name, Tiny.SpecHash);
        var forced = model.Forward(tokens, 2, new ForwardOptions { CapacityFactor = 0.25, ReplayRouting = replay });

        Assert.Equal(roomy.Logits, forced.Logits);
        Assert.NotEqual(tight.Logits, forced.Logits);
        int dropped = tight.MoeLayers.Sum(l => l.Routing.DroppedAssignments);
        Assert.True(dropped > 0);
        // Nothing dropped at cf 8, so the fresh tight routing differs exactly in its dropped assignments.
        Assert.Equal(dropped, replay.Changed);
    }

    [Fact]
    public void Training_replays_a_recorded_step_bit_for_bit_at_another_capacity_factor()
    {
        var weights = ReferenceWeights.Random(Tiny.Config, 6);
        using var network = new TrainingNetwork(fixture.Device, Tiny, DeviceWeights.Load(fixture.Device, Tiny, p => weights.ToFloats(p.Name)));
        var inputs = Tokens(2 * 16, seed: 3);
        var targets = inputs.Skip(1).Append(-1).ToArray();
        network.RecordRouting = new RoutingRecorder();
        var roomy = network.ForwardBackward(inputs, targets, 2, capacityFactor: 8);
        var roomyGradient = network.Gradients.Download(Tiny.Parameters[^1]);
        var recording = network.RecordRouting.ToRecording(Tiny.Name, Tiny.SpecHash);
        network.RecordRouting = null;
        var tight = network.ForwardBackward(inputs, targets, 2, capacityFactor: 0.25);
        network.ReplayRouting = new RoutingReplay(recording, Tiny.Name, Tiny.SpecHash);
        var forced = network.ForwardBackward(inputs, targets, 2, capacityFactor: 0.25);

        Assert.Equal(roomy.CrossEntropy, forced.CrossEntropy);
        Assert.NotEqual(tight.CrossEntropy, forced.CrossEntropy);
        Assert.Equal(roomyGradient, network.Gradients.Download(Tiny.Parameters[^1]));
        Assert.True(network.ReplayRouting.Changed > 0);
    }

    [Fact]
    public void A_recording_of_another_spec_or_batch_is_a_clear_error()
    {
        using var model = Model();
        var tokens = Tokens(16, seed: 4);
        var recorder = new RoutingRecorder();
        model.Forward(tokens, 1, new ForwardOptions { RecordRouting = recorder });
        var recording = recorder.ToRecording(Tiny.Name, Tiny.SpecHash);

        var mixtral = ModelSpecs.Find("Mixtral-Tiny");
        Assert.Contains("not Mixtral-Tiny", Assert.Throws<ArgumentException>(() => new RoutingReplay(recording, mixtral.Name, mixtral.SpecHash)).Message);

        var otherTokens = tokens.Select(t => (t + 1) % Tiny.Config.Vocab).ToArray();
        var replay = new RoutingReplay(recording, Tiny.Name, Tiny.SpecHash);
        Assert.Contains("other tokens", Assert.Throws<ArgumentException>(() => model.Forward(otherTokens, 1, new ForwardOptions { ReplayRouting = replay })).Message);

        replay = new RoutingReplay(recording, Tiny.Name, Tiny.SpecHash);
        Assert.Contains("[B, T] = [1, 16]", Assert.Throws<ArgumentException>(() => model.Forward(tokens, 2, new ForwardOptions { ReplayRouting = replay })).Message);

        replay = new RoutingReplay(recording, Tiny.Name, Tiny.SpecHash);
        model.RoutingOverride = RoutingOverride.Parse("expert-choice");
        Assert.Contains("another routing rule", Assert.Throws<ArgumentException>(() => model.Forward(tokens, 1, new ForwardOptions { ReplayRouting = replay })).Message);
    }
}
