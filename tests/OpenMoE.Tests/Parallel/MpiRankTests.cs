using OpenMoE.Tests.Checkpoints;
using System.Text.Json;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Parallel.RankHost;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// Two real MPI ranks (MPICH under mpiexec, tests/OpenMoE.Parallel.RankHost): the P/Invoke
/// communicator's collectives, the expert-parallel forward against one process, and the faults:
/// a rank that raises or is killed stops the job within a bounded time.
/// </summary>
[Collection(MpiJob.Collection)]
public class MpiRankTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    private static JsonElement[] Ranks(string folder, int ranks) =>
        Enumerable.Range(0, ranks).Select(r => JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, $"rank{r}.json"))).RootElement).ToArray();

    private static T[] Array<T>(JsonElement e, string name) => e.GetProperty(name).Deserialize<T[]>()!;

    [Fact]
    public void Mpich_collectives_sum_gather_split_and_exchange_with_empty_blocks()
    {
        using var temp = new TempFolder();
        var (code, output, _) = MpiJob.Run(2, Limit, "collectives", temp.Path);
        Assert.True(code == 0, output);
        var ranks = Ranks(temp.Path, 2);
        foreach (var r in ranks)
        {
            Assert.StartsWith("MPICH", r.GetProperty("Name").GetString());
            Assert.Equal([3f, 6f, 9f, 12f, 15f], Array<float>(r, "Floats"));
            Assert.Equal([1.5, 3e-300], Array<double>(r, "Doubles"));
            Assert.Equal([1], Array<int>(r, "Gathered"));
            Assert.Equal([0, 1], Array<int>(r, "Ranks"));
        }
        Assert.Equal([1, 0], ranks.Select(r => r.GetProperty("SubRank").GetInt32()));
        Assert.All(ranks, r => Assert.Equal(2.0, r.GetProperty("SubSum").GetDouble()));
        // Rank r sent (r + j) % 3 copies of 100 r + j to rank j.
        Assert.Equal([100f], Array<float>(ranks[0], "Received"));
        Assert.Equal([1f, 101f, 101f], Array<float>(ranks[1], "Received"));
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", 0.75)]
    [InlineData("Mixtral-Tiny", 1.0)]
    [InlineData("DeepSeekMoE-Tiny", 1.0)]
    public void Two_mpi_ranks_route_and_predict_as_one_process(string specName, double capacityFactor)
    {
        var spec = ModelSpecs.Find(specName);
        using var temp = new TempFolder();
        var (code, output, _) = MpiJob.Run(2, Limit, "forward", specName, capacityFactor.ToString(System.Globalization.CultureInfo.InvariantCulture), temp.Path);
        Assert.True(code == 0, output);
        var ranks = Ranks(temp.Path, 2);

        // The host's job: rank r holds r + 1 sequences of 16 tokens, weights from seed 7.
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        using var model = new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, p => RankWeights.For(p, seed: 7)));
        var single = model.Forward(RankTokens.Batch(spec, 3, 16), 3, new ForwardOptions { CapacityFactor = capacityFactor, CollectTrace = true });

        Assert.Equal(single.Logits, ranks.SelectMany(r => Array<float>(r, "Logits")));
        foreach (var r in ranks)
        {
            var layers = r.GetProperty("Layers").EnumerateArray().ToArray();
            Assert.Equal(single.MoeLayers.Count, layers.Length);
            for (int m = 0; m < layers.Length; m++)
            {
                var expected = single.MoeLayers[m];
                Assert.Equal(expected.Routing.Expert, Array<int>(layers[m], "Expert"));
                Assert.Equal(expected.Routing.Slot, Array<int>(layers[m], "Slot"));
                Assert.Equal(expected.Routing.Row, Array<int>(layers[m], "Row"));
                Assert.Equal(expected.Routing.Weight, Array<float>(layers[m], "Weight"));
                Assert.Equal(expected.LoadBalancingLoss, layers[m].GetProperty("LoadBalancingLoss").GetDouble());
                Assert.Equal(expected.ZLoss, layers[m].GetProperty("ZLoss").GetDouble());
            }
            Assert.True(r.GetProperty("RowsSent").GetInt64() > 0, "a rank sent no token to the other's experts");
            Assert.Equal(r.GetProperty("RowsSent").GetInt64() * spec.Config.Hidden * sizeof(float), r.GetProperty("BytesSent").GetInt64());
        }
        if (capacityFactor < 1)
            Assert.Contains(single.MoeLayers, layer => layer.Routing.DroppedAssignments > 0);
    }

    [Fact]
    public void A_rank_that_raises_stops_every_rank_naming_itself_and_the_cause()
    {
        using var temp = new TempFolder();
        var (code, output, seconds) = MpiJob.Run(2, Limit, "raises", "1", temp.Path);
        Assert.NotEqual(0, code);
        Assert.Contains("error: rank 1 of 2: the expert weights are on fire", output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "rank0.json")), "rank 0 finished a job its peer had failed");
        Assert.True(seconds < 60, $"the job took {seconds:F0} s to stop");
    }

    [Fact]
    public void A_killed_rank_stops_the_job_within_bounded_time()
    {
        using var temp = new TempFolder();
        var (code, output, seconds) = MpiJob.Run(2, Limit, "killed", "1", temp.Path);
        Assert.NotEqual(0, code);
        // MPICH's process manager reports the killed process and its signal, then ends the others.
        Assert.Contains("BAD TERMINATION", output);
        Assert.Contains("signal 9", output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "rank0.json")), "rank 0 finished a job its peer had died in");
        Assert.True(seconds < 60, $"the job took {seconds:F0} s to stop");
    }
}
