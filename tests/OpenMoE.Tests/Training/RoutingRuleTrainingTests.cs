using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Data;
using OpenMoE.Tests.Kernels;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>
/// The trainer with every routing rule of issue 16 on the CPU accelerator: it learns, the expert bias
/// moves by the rate after each step, is checkpointed and resumed exactly, and inference loads it.
/// </summary>
public sealed class RoutingRuleTrainingTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-routing-train-").FullName;

    private ComputeDevice Device => fixture.Device;

    private TrainerOptions Options(string run, long steps, string? routing) => new()
    {
        Spec = "OpenMoE-Tiny", Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(_root, run),
        Steps = steps, Batch = 2, SequenceLength = 32, Objective = "causal", Optimizer = "adamw", LearningRate = 3e-3, Warmup = 2,
        Schedule = "cosine", CheckpointEvery = 2, Seed = 5, Routing = routing,
    };

    [Theory]
    [InlineData(null)]
    [InlineData("expert-choice")]
    [InlineData("aux-free")]
    [InlineData("by-probability")]
    [InlineData("aux-free,groups=4/2")]
    public void Every_routing_rule_trains_and_its_loss_falls(string? routing)
    {
        var reports = new List<StepReport>();
        using (var trainer = new Trainer(Options("rule", 8, routing), Device))
            trainer.Run(reports.Add);
        Assert.All(reports, r => Assert.True(double.IsFinite(r.Loss)));
        Assert.True(reports[^1].CrossEntropy < reports[0].CrossEntropy, $"{routing}: cross-entropy {reports[0].CrossEntropy} -> {reports[^1].CrossEntropy}");
    }

    [Fact]
    public void The_bias_moves_by_the_rate_each_step_and_inference_loads_it_from_the_checkpoint()
    {
        var options = Options("bias", 3, "aux-free");
        Dictionary<int, float[]> trained;
        using (var trainer = new Trainer(options, Device))
        {
            trainer.Run();
            trained = trainer.ExpertBias.ToDictionary(b => b.Key, b => (float[])b.Value.Clone());
        }
        double rate = ModelSpecs.Find("OpenMoE-Tiny").Config.BiasUpdateRate;
        foreach (var bias in trained.Values)
        {
            Assert.Contains(bias, b => b != 0);
            // Three steps of +-rate or 0 each.
            Assert.All(bias, b => Assert.Contains(Enumerable.Range(-3, 7).Select(i => (float)(i * rate)), step => Math.Abs(step - b) < 1e-6));
        }

        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        using var file = WeightFile.Open(Path.Combine(options.Out, "checkpoints"), spec);
        using var model = new MoeTransformer(Device, spec, DeviceWeights.Load(Device, spec, (p, sink) => file.Stream(p, sink)));
        RoutingCheckpointState.Restore(model, file.Checkpoint, routing: null);
        Assert.Equal(RouterScoring.Sigmoid, model.RoutingConfig.RouterScoring);
        Assert.True(model.RoutingConfig.ExpertBias);
        foreach (var (layer, bias) in trained)
            Assert.Equal(bias, model.ExpertBias[layer]);

        // The command line loads the same way (ModelOptions.Build), for eval and generate.
        string ids = Path.Combine(_root, "ids.txt");
        File.WriteAllText(ids, string.Join(' ', Enumerable.Range(0, 64).Select(i => i * 5 % 512)));
        Assert.Equal(0, OpenMoE.Cli.Program.Main(["eval", "--weights", Path.Combine(options.Out, "checkpoints"), "--device", "cpu", "--token-ids", ids, "--seq", "32", "--batch", "2"]));
        Assert.Equal(0, OpenMoE.Cli.Program.Main(["generate", "--weights", Path.Combine(options.Out, "checkpoints"), "--device", "cpu", "--prompt", "Hi", "--max-new-tokens", "2"]));
    }

    [Fact]
    public void A_bias_balanced_run_resumes_bit_for_bit_and_a_resume_with_another_rule_fails()
    {
        var straight = new List<StepReport>();
        using (var trainer = new Trainer(Options("straight", 4, "aux-free"), Device))
            trainer.Run(straight.Add);
        using (var first = new Trainer(Options("resumed", 2, "aux-free"), Device))
            first.Run();
        var resumed = new List<StepReport>();
        using (var second = new Trainer(Options("resumed", 4, "aux-free") with { Resume = true }, Device))
            second.Run(resumed.Add);
        Assert.Equal(straight.Skip(2).Select(r => r.Loss), resumed.Select(r => r.Loss));
        Assert.Contains("--routing aux-free", Assert.Throws<ArgumentException>(
            () => new Trainer(Options("resumed", 6, null) with { Resume = true }, Device)).Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}
