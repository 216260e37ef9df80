using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.SafeTensors;
using OpenMoE.Tests.Data;
using OpenMoE.Training;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// The trainer on threaded ranks: an expert-parallel run is the single-process run on the same global
/// batches, its checkpoints are written by every rank together yet are ordinary checkpoints, and they
/// move between layouts (E = 2 -> 1 -> 2, 2 -> 4) without a tensor changing.
/// </summary>
public sealed class ParallelTrainerTests : IDisposable
{
    // As ParallelTrainingTests: replicated gradients are sums of per-rank parts, so the rounding differs;
    // a handful of steps keep losses within 1e-5 and weights within 1e-5 + 1e-3 |w| of one process.
    private const double LossTolerance = 1e-5, WeightAbs = 1e-5, WeightRel = 1e-3;
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-parallel-trainer-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private TrainerOptions Options(string spec, string optimizer, string run, long steps, int expertParallel = 1, int dataParallel = 1) => new()
    {
        Spec = spec, Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(_root, run),
        Steps = steps, Batch = 4, SequenceLength = 32, Objective = "causal", Optimizer = optimizer, LearningRate = 3e-3, Warmup = 2,
        ClipNorm = 0.5, CheckpointEvery = 2, Seed = 7, ExpertParallel = expertParallel, DataParallel = dataParallel,
    };

    /// <summary>Runs a trainer on each of <paramref name="ranks"/> threaded ranks (one process when 1); returns rank 0's reports.</summary>
    private static List<StepReport> Train(TrainerOptions options, int ranks, Action<Trainer>? after = null)
    {
        if (ranks == 1)
        {
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            using var trainer = new Trainer(options, device);
            var reports = new List<StepReport>();
            trainer.Run(reports.Add);
            after?.Invoke(trainer);
            return reports;
        }
        return new ThreadedCommunicators(ranks, TimeSpan.FromSeconds(120)).Run(world =>
        {
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            using var trainer = new Trainer(options, device, world: world);
            var reports = new List<StepReport>();
            trainer.Run(reports.Add);
            after?.Invoke(trainer);
            return reports;
        })[0];
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", "adafactor")]
    [InlineData("OpenMoE-Tiny", "adamw")]
    [InlineData("Mixtral-Tiny", "adafactor")]
    public void Expert_parallel_run_resumed_in_one_process_continues_the_run_of_one_process(string spec, string optimizer)
    {
        var straight = Train(Options(spec, optimizer, "straight", 4), 1);
        var parallel = Train(Options(spec, optimizer, "moved", 2, expertParallel: 2), 2);
        var resumed = Train(Options(spec, optimizer, "moved", 4) with { Resume = true }, 1);

        var steps = parallel.Concat(resumed).ToList();
        Assert.Equal(straight.Select(r => r.Step), steps.Select(r => r.Step));
        for (int i = 0; i < straight.Count; i++)
        {
            Assert.True(Math.Abs(steps[i].Loss - straight[i].Loss) <= LossTolerance, $"step {i + 1}: loss {steps[i].Loss} vs one process {straight[i].Loss}");
            Assert.True(Math.Abs(steps[i].GradientNorm - straight[i].GradientNorm) <= LossTolerance * Math.Max(1, straight[i].GradientNorm),
                $"step {i + 1}: gradient norm {steps[i].GradientNorm} vs one process {straight[i].GradientNorm}");
        }
        var expected = Checkpoint(Path.Combine(_root, "straight", "checkpoints", "step-00000004"));
        var actual = Checkpoint(Path.Combine(_root, "moved", "checkpoints", "step-00000004"));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, bytes) in expected)
        {
            var (want, got) = (Floats(bytes), Floats(actual[name]));
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= WeightAbs + WeightRel * Math.Abs(want[i]), $"{name}[{i}] after 4 steps: {got[i]} vs one process {want[i]}");
        }

        // The parallel steps were logged once, by rank 0, with both ranks' tokens and exchange traffic.
        var log = File.ReadAllLines(Path.Combine(_root, "moved", "metrics.jsonl"));
        Assert.Equal(4, log.Length);
        Assert.All(log.Take(2), line => Assert.Contains("\"ranks\":[{\"rank\":0,\"tokens\":64,", line));
        Assert.All(log.Take(2), line => Assert.Contains("{\"rank\":1,\"tokens\":64,", line));
        Assert.All(log.Skip(2), line => Assert.DoesNotContain("\"ranks\"", line));
        Assert.All(parallel, r => Assert.True(r.Ranks!.All(rank => rank.BytesSent > 0), "every rank sent rows to the other's experts"));
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", "adafactor", 4)]
    [InlineData("Mixtral-Tiny", "adamw", 4)]
    [InlineData("DeepSeekMoE-Tiny", "adafactor", 4)]
    public void A_two_rank_checkpoint_moves_to_one_process_and_back_without_a_tensor_changing(string spec, string optimizer, int wider)
    {
        Train(Options(spec, optimizer, "two", 2, expertParallel: 2), 2);
        var original = Checkpoint(Path.Combine(_root, "two", "checkpoints", "step-00000002"));

        // Resume without training (the run is at its last step) and save again, on another layout each time.
        string Resave(string from, string to, int ranks)
        {
            CopyFolder(Path.Combine(_root, from), Path.Combine(_root, to));
            Train(Options(spec, optimizer, to, 2, expertParallel: ranks) with { Resume = true }, ranks, trainer => trainer.Save());
            return Path.Combine(_root, to, "checkpoints", "step-00000002");
        }
        var single = Resave("two", "one", 1);
        var back = Resave("one", "two-again", 2);
        var four = Resave("two", "four", wider);

        foreach (var path in new[] { single, back, four })
        {
            var copy = Checkpoint(path);
            Assert.Equal(original.Keys.Order(), copy.Keys.Order());
            foreach (var (name, bytes) in original)
                Assert.True(bytes.AsSpan().SequenceEqual(copy[name]), $"{name} changed in {path}");
        }

        // Converted to safetensors, the two-rank checkpoint has every parameter, each expert whole.
        var output = Path.Combine(_root, "two.safetensors");
        SafeTensorsConverter.ToSafeTensors(Path.Combine(_root, "two"), output);
        using var file = SafeTensorsFile.Open(output);
        var info = ModelSpecs.Find(spec);
        Assert.Equal(info.Parameters.Length, file.Tensors.Count);
        foreach (var parameter in info.Parameters)
            Assert.Equal(parameter.Shape.ToArray(), file.Tensors.Single(t => t.Name == parameter.Name).Shape);
        foreach (var layer in info.Config.MoeLayers)
        {
            // Every expert of the layer is in the file: each per-expert tensor, or a stack as deep as the layer has experts.
            var inFile = info.Parameters.Where(p => p.Layer == layer && ExpertTensors.IsRoutedExpert(p) && file.Contains(p.Name)).ToList();
            Assert.NotEmpty(inFile);
            var held = inFile.SelectMany(p => ExpertTensors.IsStacked(p)
                ? Enumerable.Range(0, (int)file.Tensors.Single(t => t.Name == p.Name).Shape[0])
                : [p.Expert]).ToHashSet();
            Assert.Equal(Enumerable.Range(0, info.Config.Experts).ToHashSet(), held);
        }
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", 2, 1, 1, "--batch 1 gives some of the 2 ranks no sequence to train on; pass --batch 2 or more")]
    [InlineData("OpenMoE-Tiny", 3, 1, 4, "--expert-parallel 3 does not divide the 8 experts of OpenMoE-Tiny; use a divisor of 8.")]
    [InlineData("OpenMoE-Tiny-Dense", 2, 1, 4, "--expert-parallel 2: OpenMoE-Tiny-Dense is dense (no experts to split); use --data-parallel 2 instead.")]
    public void Parallel_sizes_that_cannot_work_are_refused_before_anything_runs(string spec, int expertParallel, int dataParallel, int batch, string message)
    {
        var options = Options(spec, "adamw", "refused", 2, expertParallel, dataParallel) with { Batch = batch };
        Assert.Contains(message, Assert.Throws<ArgumentException>(options.Validate).Message);
        Assert.False(Directory.Exists(options.Out));
    }

    private static Dictionary<string, byte[]> Checkpoint(string path)
    {
        using var reader = CheckpointReader.Open(path);
        reader.VerifyChecksums();
        return reader.LoadAll().ToDictionary(t => t.Key, t => t.Value);
    }

    private static float[] Floats(byte[] bytes) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();

    private static void CopyFolder(string from, string to)
    {
        foreach (var directory in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(directory.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            if (!file.EndsWith(".lock", StringComparison.Ordinal))
                File.Copy(file, file.Replace(from, to));
        }
    }
}
