using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;
using OpenMoE.Parallel.RankHost;
using OpenMoE.Runtime.Communication;
using OpenMoE.Runtime.Devices;

// One rank of a test job (mpiexec -n P dotnet OpenMoE.Parallel.RankHost.dll <scenario> ...); each rank
// writes what it saw to <out>/rank<r>.json for the test to compare.
//   collectives <out>                         every collective with uneven and zero counts
//   forward <spec> <capacityFactor> <out>    the expert-parallel forward, rank r holding r + 1 sequences
//   killed <rank> <out>                       that rank is killed (SIGKILL) while the others wait in a collective
//   raises <rank> <out>                       that rank throws while the others wait in a collective
using var communicator = MpiCommunicator.Initialize();
return RankFailures.Run(communicator, () =>
{
    string scenario = args[0], output = args[^1];
    Directory.CreateDirectory(output);
    object result = scenario switch
    {
        "collectives" => Collectives(communicator),
        "forward" => Forward(communicator, ModelSpecs.Find(args[1]), double.Parse(args[2], CultureInfo.InvariantCulture)),
        "killed" => Fault(communicator, int.Parse(args[1], CultureInfo.InvariantCulture), kill: true),
        "raises" => Fault(communicator, int.Parse(args[1], CultureInfo.InvariantCulture), kill: false),
        _ => throw new ArgumentException($"unknown scenario {scenario}"),
    };
    File.WriteAllText(Path.Combine(output, $"rank{communicator.Rank}.json"), JsonSerializer.Serialize(result));
    communicator.Barrier();
    return 0;
});

static object Collectives(ICommunicator c)
{
    int rank = c.Rank, size = c.Size;
    var floats = Enumerable.Range(0, 5).Select(i => (float)(rank + 1) * (i + 1)).ToArray();
    c.AllReduceSum(floats);
    var doubles = new[] { rank + 0.25, 1e-300 * (rank + 1) };
    c.AllReduceSum(doubles);
    // Rank r contributes r elements (rank 0 none).
    var counts = Enumerable.Range(0, size).ToArray();
    var gathered = new int[counts.Sum()];
    c.AllGatherVariable<int>(Enumerable.Repeat(rank, rank).ToArray(), counts, gathered);
    // Rank r sends (r + j) % 3 elements, valued 100 r + j, to rank j: some blocks are empty.
    var sendCounts = Enumerable.Range(0, size).Select(j => (rank + j) % 3).ToArray();
    var send = Enumerable.Range(0, size).SelectMany(j => Enumerable.Repeat(100f * rank + j, sendCounts[j])).ToArray();
    var receiveCounts = Enumerable.Range(0, size).Select(j => (j + rank) % 3).ToArray();
    var received = new float[receiveCounts.Sum()];
    c.AllToAllVariable<float>(send, sendCounts, received, receiveCounts);
    // One group ranked in reverse: sub-rank = size - 1 - rank; its sum sees every rank once.
    using var reversed = c.Split(color: 0, key: size - rank);
    var one = new[] { 1.0 };
    reversed.AllReduceSum(one);
    return new
    {
        c.Name, Rank = rank, Size = size, Floats = floats, Doubles = doubles, Gathered = gathered, Received = received, Ranks = c.AllGather(rank),
        SubRank = reversed.Rank, SubSum = one[0],
    };
}

static object Forward(ICommunicator c, ModelSpecInfo spec, double capacityFactor)
{
    var parallel = new ExpertParallelism(c);
    const int time = 16;
    int batch = c.Rank + 1, first = Enumerable.Range(1, c.Rank).Sum() * time;
    int[] all = RankTokens.Batch(spec, Enumerable.Range(1, c.Size).Sum(), time);
    using var device = DeviceFactory.Create(DeviceKind.Cpu);
    var weights = DeviceWeights.Load(device, spec, p => RankWeights.For(p, seed: 7), parallel.Shard(spec.Config.Experts));
    using var model = new MoeTransformer(device, spec, weights, parallel);
    var result = model.Forward(all[first..(first + batch * time)], batch, new ForwardOptions { CapacityFactor = capacityFactor, CollectTrace = true });
    return new
    {
        result.Logits,
        Layers = result.MoeLayers.Select(l => new { l.Routing.Expert, l.Routing.Slot, l.Routing.Row, l.Routing.Weight, l.LoadBalancingLoss, l.ZLoss }).ToArray(),
        parallel.RowsSent,
        parallel.BytesSent,
    };
}

static object Fault(ICommunicator c, int victim, bool kill)
{
    if (c.Rank == victim && kill)
        Process.GetCurrentProcess().Kill();
    if (c.Rank == victim)
        throw new InvalidOperationException("the expert weights are on fire (fault test)");
    c.Barrier();
    return new { Survived = true };
}
