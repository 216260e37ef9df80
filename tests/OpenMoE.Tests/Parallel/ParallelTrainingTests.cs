using ILGPU.Runtime;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Reference;
using OpenMoE.Training;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// Expert- and data-parallel training on threaded ranks against one process on the same global
/// batch: 20 AdamW steps with global-norm clipping that bites. One process runs each replica's batch
/// (all its expert-parallel ranks' sequences, concatenated: one routing group) and averages the
/// replicas' gradients, which is what D replicas mean; the parallel job must reach the same losses,
/// gradient norms and weights.
/// </summary>
public class ParallelTrainingTests
{
    private const int Steps = 20, Time = 16;
    private const double LearningRate = 3e-3, ClipNorm = 0.5;
    // Gradients of replicated tensors are sums of per-rank parts instead of one GEMM over all rows: the
    // rounding differs and 20 steps carry it on. Measured here (2026-12-03): losses within 1.6e-6, weights
    // within 1.3e-6 (data parallelism alone: weights bit-equal). At learning rate 1e-2 Mixtral-Tiny's two
    // runs part at step 18 (differences jump to 7e-4: a near-tied top-2 choice flips), so the rate stays 3e-3.
    private const double LossTolerance = 1e-5, WeightAbs = 1e-5, WeightRel = 1e-3;

    [Theory]
    [InlineData("OpenMoE-Tiny", 2, 1)]
    [InlineData("Mixtral-Tiny", 2, 1)]
    [InlineData("DeepSeekMoE-Tiny", 2, 1)]
    [InlineData("OpenMoE-Tiny", 1, 2)]
    [InlineData("OpenMoE-Tiny", 2, 2)]
    public void Parallel_training_matches_one_process_for_20_steps(string specName, int expertParallel, int dataParallel)
    {
        var spec = ModelSpecs.Find(specName);
        var initial = ReferenceWeights.Random(spec.Config, seed: 31);
        double cf = spec.Config.TrainCapacityFactor;
        // batches[step][replica][expertRank]: expert rank e holds e + 1 sequences.
        var batches = Enumerable.Range(0, Steps).Select(s => Enumerable.Range(0, dataParallel)
            .Select(d => Enumerable.Range(0, expertParallel).Select(e => Batch(spec, e + 1, seed: 1000 * s + 10 * d + e)).ToArray()).ToArray()).ToArray();

        var (expectedLosses, expectedNorms, expectedWeights) = OneProcess(spec, initial, batches, cf);

        var ranks = new ThreadedCommunicators(expertParallel * dataParallel).Run(world =>
        {
            using var layout = new ParallelLayout(world, expertParallel, dataParallel);
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            var weights = DeviceWeights.Load(device, spec, p => initial.ToFloats(p.Name), layout.Shard(spec.Config.Experts));
            using var network = new TrainingNetwork(device, spec, weights, layout);
            var parameters = DeviceParameters.Of(network);
            var gradients = new ParallelGradients(device, layout, parameters);
            using var optimizer = new AdamW(device, parameters.Infos);
            var losses = new double[Steps];
            var norms = new double[Steps];
            for (int s = 0; s < Steps; s++)
            {
                var (inputs, targets, rows) = batches[s][layout.Replica][layout.ExpertRank];
                losses[s] = network.ForwardBackward(inputs, targets, rows, cf).Total;
                norms[s] = gradients.ReduceAndClip(parameters, ClipNorm);
                optimizer.Step(parameters, s + 1, LearningRate);
            }
            device.Synchronize();
            var held = network.Weights.Held.ToDictionary(p => p.Name, p => (Info: p, Values: network.Weights.Download(p)));
            return (losses, norms, held, Shard: network.Weights.Experts);
        });

        Assert.Contains(expectedNorms, norm => norm > ClipNorm);
        foreach (var rank in ranks)
        {
            for (int s = 0; s < Steps; s++)
            {
                Assert.True(Math.Abs(rank.losses[s] - expectedLosses[s]) <= LossTolerance, $"step {s + 1}: loss {rank.losses[s]} vs one process {expectedLosses[s]}");
                Assert.True(Math.Abs(rank.norms[s] - expectedNorms[s]) <= LossTolerance * Math.Max(1, expectedNorms[s]), $"step {s + 1}: gradient norm {rank.norms[s]} vs one process {expectedNorms[s]}");
            }
            foreach (var (name, (info, values)) in rank.held)
            {
                var expected = expectedWeights[name];
                // A stacked expert tensor of a shard is the shard's slice of the whole stack.
                long offset = ExpertTensors.IsStacked(info) ? expected.Length / spec.Config.Experts * rank.Shard.First : 0;
                for (int i = 0; i < values.Length; i++)
                {
                    double reference = expected[offset + i];
                    Assert.True(Math.Abs(values[i] - reference) <= WeightAbs + WeightRel * Math.Abs(reference),
                        $"{name}[{i}] after {Steps} steps: {values[i]} vs one process {reference}");
                }
            }
        }
        // Every tensor of the model is held by some rank, each expert exactly once per replica.
        var heldNames = ranks.SelectMany(r => r.held.Keys).ToHashSet();
        Assert.Equal(spec.Parameters.Select(p => p.Name).ToHashSet(), heldNames);
    }

    private static (double[] Losses, double[] Norms, Dictionary<string, float[]> Weights) OneProcess(
        ModelSpecInfo spec, ReferenceWeights initial, (int[] Inputs, int[] Targets, int Rows)[][][] batches, double cf)
    {
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        using var network = new TrainingNetwork(device, spec, DeviceWeights.Load(device, spec, p => initial.ToFloats(p.Name)));
        var parameters = DeviceParameters.Of(network);
        using var clipping = new GradientClipping(device, parameters);
        using var optimizer = new AdamW(device, parameters.Infos);
        var losses = new double[Steps];
        var norms = new double[Steps];
        var sums = Array.ConvertAll(parameters.Infos, p => new double[p.Elements]);
        for (int s = 0; s < Steps; s++)
        {
            int replicas = batches[s].Length;
            foreach (var sum in sums) Array.Clear(sum);
            foreach (var replica in batches[s])
            {
                var inputs = replica.SelectMany(b => b.Inputs).ToArray();
                var targets = replica.SelectMany(b => b.Targets).ToArray();
                losses[s] += network.ForwardBackward(inputs, targets, replica.Sum(b => b.Rows), cf).Total / replicas;
                device.Synchronize();
                for (int i = 0; i < sums.Length; i++)
                {
                    var g = parameters.Gradients[i].Download();
                    for (int j = 0; j < g.Length; j++) sums[i][j] += g[j];
                }
            }
            for (int i = 0; i < sums.Length; i++)
                parameters.Gradients[i].CopyFromCPU(Array.ConvertAll(sums[i], x => (float)(x / replicas)));
            norms[s] = clipping.Clip(parameters, ClipNorm);
            optimizer.Step(parameters, s + 1, LearningRate);
        }
        device.Synchronize();
        return (losses, norms, parameters.Infos.ToDictionary(p => p.Name, network.Weights.Download));
    }

    /// <summary><paramref name="rows"/> random sequences with next-token targets (the last position of each is not a target).</summary>
    private static (int[] Inputs, int[] Targets, int Rows) Batch(ModelSpecInfo spec, int rows, int seed)
    {
        var random = new Random(seed);
        var inputs = Enumerable.Range(0, rows * Time).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
        var targets = Enumerable.Range(0, rows * Time).Select(i => i % Time == Time - 1 ? -1 : inputs[i + 1]).ToArray();
        return (inputs, targets, rows);
    }
}
