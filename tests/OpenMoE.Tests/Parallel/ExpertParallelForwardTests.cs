using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// Expert parallelism's forward on two in-process ranks (threads, each with its own CPU device and
/// half the experts) against one process on the concatenated batch: every routing decision of every
/// MoE layer, the router losses and every logit.
/// </summary>
public class ExpertParallelForwardTests
{
    [Theory]
    [InlineData("OpenMoE-Tiny", 1.25, 2)]
    [InlineData("OpenMoE-Tiny", 0.5, 2)]
    [InlineData("Mixtral-Tiny", 1.0, 2)]
    [InlineData("DeepSeekMoE-Tiny", 1.0, 2)]
    [InlineData("DeepSeekMoE-Tiny", 1.0, 4)]
    public void Expert_parallel_forward_routes_and_predicts_as_one_process(string specName, double capacityFactor, int ranks)
    {
        var spec = ModelSpecs.Find(specName);
        var weights = ReferenceWeights.Random(spec.Config, seed: 23);
        const int time = 16;
        // Uneven batches: rank r holds r + 1 sequences, so the global group is not a multiple of one rank's.
        int[] batches = Enumerable.Range(1, ranks).ToArray();
        var random = new Random(41);
        int[] all = Enumerable.Range(0, batches.Sum() * time).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
        var options = new ForwardOptions { CapacityFactor = capacityFactor, CollectTrace = true };

        ForwardResult single;
        using (var device = DeviceFactory.Create(DeviceKind.Cpu))
        using (var model = new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name))))
            single = model.Forward(all, batches.Sum(), options);

        var parts = new ThreadedCommunicators(ranks).Run(communicator =>
        {
            var parallel = new ExpertParallelism(communicator);
            int rank = communicator.Rank, first = batches.Take(rank).Sum() * time;
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            var shard = DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name), parallel.Shard(spec.Config.Experts));
            using var model = new MoeTransformer(device, spec, shard, parallel);
            return model.Forward(all[first..(first + batches[rank] * time)], batches[rank], options);
        });

        Assert.Equal(single.Logits, parts.SelectMany(p => p.Logits));
        foreach (var part in parts)
        {
            Assert.Equal(single.MoeLayers.Count, part.MoeLayers.Count);
            for (int m = 0; m < single.MoeLayers.Count; m++)
            {
                var (expected, actual) = (single.MoeLayers[m], part.MoeLayers[m]);
                Assert.Equal(expected.Routing.Expert, actual.Routing.Expert);
                Assert.Equal(expected.Routing.Slot, actual.Routing.Slot);
                Assert.Equal(expected.Routing.Row, actual.Routing.Row);
                Assert.Equal(expected.Routing.Weight, actual.Routing.Weight);
                Assert.Equal(expected.LoadBalancingLoss, actual.LoadBalancingLoss);
                Assert.Equal(expected.ZLoss, actual.ZLoss);
            }
        }
        if (capacityFactor < 1)
            Assert.Contains(single.MoeLayers, layer => layer.Routing.DroppedAssignments > 0);
    }

    [Fact]
    public void A_rank_built_over_weights_of_another_shard_is_refused()
    {
        var spec = ModelSpecs.Find("OpenMoE-Tiny");
        var weights = ReferenceWeights.Random(spec.Config, seed: 1);
        var communicators = new ThreadedCommunicators(2);
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        var parallel = new ExpertParallelism(communicators.Ranks[1]);
        using var shard = DeviceWeights.Load(device, spec, p => weights.ToFloats(p.Name), parallel.ShardOf(0, spec.Config.Experts));
        var e = Assert.Throws<ArgumentException>(() => new MoeTransformer(device, spec, shard, parallel));
        Assert.Contains("experts 0-3", e.Message);
        Assert.Contains("experts 4-7", e.Message);
    }
}
