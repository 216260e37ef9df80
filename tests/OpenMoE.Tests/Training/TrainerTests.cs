using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Training;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Data;
using OpenMoE.Tests.Kernels;

namespace OpenMoE.Tests.Training;

/// <summary>The training loop on the CPU accelerator: it learns, it stops on NaN, it resumes exactly.</summary>
public sealed class TrainerTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-trainer-").FullName;

    private ComputeDevice Device => fixture.Device;

    private TrainerOptions Options(string run, long steps) => new()
    {
        Spec = "OpenMoE-Tiny", Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(_root, run),
        Steps = steps, Batch = 2, SequenceLength = 32, Objective = "ul2", Optimizer = "adafactor", LearningRate = 0.01, Warmup = 10,
        CheckpointEvery = 2, Seed = 5,
    };

    [Fact]
    public void Tiny_spec_overfits_one_batch_to_near_zero_loss()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        using var network = new TrainingNetwork(Device, spec, DeviceWeights.Load(Device, spec, p => InitialWeights(spec, p)));
        var random = new Random(4);
        var tokens = Enumerable.Range(0, 2 * 16).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
        var targets = tokens.Select((_, i) => i % 16 == 15 ? -1 : tokens[i + 1]).ToArray();
        var parameters = DeviceParameters.Of(network);
        using var optimizer = new AdamW(Device, parameters.Infos, weightDecay: 0);
        double first = 0, last = 0;
        for (int step = 1; step <= 60; step++)
        {
            var losses = network.ForwardBackward(tokens, targets, 2, 1.25);
            if (step == 1) first = losses.CrossEntropy;
            last = losses.CrossEntropy;
            optimizer.Step(parameters, step, 1e-2);
        }
        Assert.True(first > 5, $"initial loss {first} should be near ln(512) = 6.2");
        Assert.True(last < 0.05, $"loss after 60 steps on one batch is {last} (started at {first})");
    }

    [Fact]
    public void Experts_without_rows_at_the_end_of_the_dispatch_list_are_skipped()
    {
        // One repeated token: every position has the same hidden state and picks the same K experts,
        // so the last expert gets no row and its rows would start at the end of the kept rows
        // (which once failed an ILGPU bounds assertion and ended the process).
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        using var network = new TrainingNetwork(Device, spec, DeviceWeights.Load(Device, spec, p => InitialWeights(spec, p)));
        var tokens = Enumerable.Repeat(65, 2 * 16).ToArray();
        var losses = network.ForwardBackward(tokens, tokens, 2, 1.25);
        Assert.Contains(losses.MoeLayers, layer => layer.ExpertLoad[^1] == 0);
        Assert.True(double.IsFinite(losses.Total), $"loss {losses.Total}");
    }

    [Fact]
    public void Router_losses_are_current_after_forwards_of_another_shape_in_between()
    {
        // Model.Forward of another batch shape re-makes the MoE layers' routing buffers (and their
        // step records); the next training step must report its own losses, not the old records'.
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        DeviceWeights Weights() => DeviceWeights.Load(Device, spec, p => InitialWeights(spec, p));
        using var network = new TrainingNetwork(Device, spec, Weights());
        using var fresh = new TrainingNetwork(Device, spec, Weights());
        var random = new Random(6);
        int[] Tokens(int count) => Enumerable.Range(0, count).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
        var (first, second) = (Tokens(2 * 16), Tokens(2 * 16));
        network.ForwardBackward(first, first, 2, 1.25);
        network.Model.Forward(Tokens(3 * 8), 3);
        network.Model.Forward(Tokens(2 * 16), 2);
        var losses = network.ForwardBackward(second, second, 2, 1.25);
        var expected = fresh.ForwardBackward(second, second, 2, 1.25);
        Assert.Equal(expected.LoadBalancing, losses.LoadBalancing);
        Assert.Equal(expected.ZLoss, losses.ZLoss);
        Assert.Equal(expected.DropRatio, losses.DropRatio);
    }

    [Fact]
    public void Resumed_run_equals_uninterrupted_run_bit_for_bit()
    {
        var straightReports = new List<StepReport>();
        Dictionary<string, float[]> straightWeights;
        using (var straight = new Trainer(Options("straight", 4), Device))
        {
            straight.Run(straightReports.Add);
            straightWeights = Snapshot(straight);
        }
        using (var first = new Trainer(Options("resumed", 2), Device))
            first.Run();
        var resumedReports = new List<StepReport>();
        using var resumed = new Trainer(Options("resumed", 4) with { Resume = true }, Device);
        Assert.Equal(2, resumed.Step);
        resumed.Run(resumedReports.Add);
        var resumedWeights = Snapshot(resumed);

        Assert.Equal(straightReports.Skip(2).Select(r => r.Loss), resumedReports.Select(r => r.Loss));
        foreach (var (name, values) in straightWeights)
            Assert.True(values.AsSpan().SequenceEqual(resumedWeights[name]), $"{name} differs after resume");
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_root, "resumed", "metrics.jsonl")).Length);
    }

    [Fact]
    public void Checkpoints_record_seed_and_tokenizer_and_a_resume_with_another_tokenizer_fails()
    {
        using (var first = new Trainer(Options("recorded", 2), Device))
            first.Run();
        var checkpoint = new CheckpointTrainingStore(ModelSpecs.Find("OpenMoE-Tiny"), Path.Combine(_root, "recorded")).FolderOf(2);
        var source = OpenMoE.Analysis.AnalysisModelSource.FromWeights(checkpoint);
        Assert.Equal((5UL, "byte", 2L), (source.InitSeed!.Value, source.Tokenizer!, source.Step!.Value));   // the untrained control is seed 5

        var model = Path.Combine(_root, "tiny.model");
        var builder = new SentencePieceModelBuilder();
        builder.Add("<pad>", 0, SentencePieceModelBuilder.Control).Add("</s>", 0, SentencePieceModelBuilder.Control)
               .Add("<unk>", 0, SentencePieceModelBuilder.Unknown).Add("\u2581a", -1);
        File.WriteAllBytes(model, builder.Build());
        var error = Assert.Throws<ArgumentException>(() => new Trainer(Options("recorded", 4) with { Resume = true, Tokenizer = model }, Device));
        Assert.Contains("was trained with the byte tokenizer, not sentencepiece:tiny.model; pass no --tokenizer", error.Message);

        // Generation refuses it too (exit code 2, before any weights load); the same tokenizer passes.
        int Generate(params string[] extra) =>
            OpenMoE.Tests.Cli.CliRunner.Invoke(["generate", "--weights", checkpoint, "--device", "cpu", "--prompt-ids", "0 5", "--max-new-tokens", "1", .. extra]).ExitCode;
        Assert.Equal(2, Generate("--tokenizer", model));
        Assert.Equal(0, Generate());

        // So does evaluation of text, which it tokenizes; token ids need no tokenizer.
        var text = Path.Combine(_root, "eval.txt");
        File.WriteAllText(text, "a a a a a a a a a a a a a a a a a a a a");
        var ids = Path.Combine(_root, "eval.ids");
        File.WriteAllText(ids, "0 5 6 7 8");
        string[] Eval(params string[] extra) => ["eval", "--weights", checkpoint, "--device", "cpu", "--seq", "8", .. extra];
        var refused = OpenMoE.Tests.Cli.CliRunner.Invoke(Eval("--text", text, "--tokenizer", model));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("was trained with the byte tokenizer", Assert.Single(refused.ErrorLines));
        Assert.Equal(0, OpenMoE.Tests.Cli.CliRunner.Invoke(Eval("--token-ids", ids, "--tokenizer", model)).ExitCode);
    }

    [Fact]
    public void Nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint()
    {
        var options = Options("diverged", 3) with { CheckpointEvery = 1 };
        using (var first = new Trainer(options with { Steps = 1 }, Device))
            first.Run();
        // Blow up one norm weight in the saved step-1 weights: the next forward overflows (q·k = inf, NaN softmax).
        var store = new CheckpointTrainingStore(OpenMoE.Model.Specs.ModelSpecs.Find(options.Spec), options.Out);
        var saved = store.LoadLatest()!;
        var weights = saved.Weights.ToDictionary(e => e.Key, e => e.Value);
        Array.Fill(weights["model.layers.0.input_layernorm.weight"], 1e30f);
        store.Save(saved with { Weights = TensorReads.FromArrays(weights) });

        using var trainer = new Trainer(options with { Resume = true }, Device);
        var error = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Equal(2, error.Step);
        Assert.Equal(1, error.LastCheckpoint);
        Assert.Contains("last good checkpoint (step 1)", error.Message);
        Assert.Equal(1, store.LatestStep);
        Assert.False(Directory.Exists(store.FolderOf(2)));
        Assert.Single(File.ReadAllLines(Path.Combine(options.Out, "metrics.jsonl")));
    }

    private static Dictionary<string, float[]> Snapshot(Trainer trainer) => trainer.DownloadWeights();

    private static float[] InitialWeights(ModelSpecInfo spec, ParameterInfo p) => OpenMoE.Model.Initialization.WeightInitializer.Create(spec.Config, p, 3);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}
