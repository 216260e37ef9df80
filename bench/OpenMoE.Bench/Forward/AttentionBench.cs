using System.Diagnostics;
using System.Text.Json;
using OpenMoE.Kernels;
using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Device;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Bench.Forward;

/// <summary>
/// The two attention implementations of a full-sequence forward on one spec's heads, in turns on
/// the same buffers: GEMMs plus a row softmax (<see cref="GemmAttention"/>) and the fused kernel
/// (<see cref="OpenMoE.Runtime.Kernels.KernelOps.Attention"/>: host SIMD on the CPU accelerator).
/// The ratio backs the choice <see cref="AttentionLayer.UsesGemmAttention"/> makes.
/// </summary>
public static class AttentionBench
{
    public static int Run(string[] args)
    {
        var spec = ModelSpecs.Find(Arg(args, "--spec", "OpenMoE-Tiny"));
        var config = spec.Config;
        int batch = int.Parse(Arg(args, "--batch", "8"));
        int time = int.Parse(Arg(args, "--seq", "128"));
        int repeats = int.Parse(Arg(args, "--repeats", "7"));
        using var device = DeviceFactory.Create(DeviceFactory.Parse(Arg(args, "--device", "cpu")));
        using var gemm = GemmProviders.Create(device.Accelerator);
        using var workspace = new Workspace(device);
        var pass = new ForwardPass(device, gemm, new DeviceRouter(device), workspace, SpecKernels.For(spec, specialised: true), batch, time, null,
            RoutingOptions.FromConfig(config, training: false), false, false, false, false, 0, 0);
        int h = config.Heads, hd = config.HeadDim;
        if (config.KvHeads != h)
            throw new ArgumentException($"{spec.Name} uses grouped-query attention, which only the fused kernel runs; compare a multi-head spec.");
        long rows = (long)batch * time * h * hd;
        var random = new Random(1);
        float[] Random(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var q = device.Upload(Random(rows), "q");
        using var k = device.Upload(Random(rows), "k");
        using var v = device.Upload(Random(rows), "v");
        using var o = device.Allocate<float>(rows, "o");
        using var p = device.Allocate<float>((long)batch * h * time * time, "p");
        var shape = new AttentionShape
        {
            Batch = batch, QueryTime = time, PastLength = 0, CacheLength = time,
            Heads = h, KvHeads = config.KvHeads, HeadDim = hd, Scale = AttentionLayer.LogitScale(config),
        };

        double Time(Action run)
        {
            var clock = Stopwatch.StartNew();
            run();
            device.Synchronize();
            return clock.Elapsed.TotalSeconds;
        }
        void Gemm() => GemmAttention.Forward(pass, q.View, k.View, v.View, p.View, o.View, h, hd, shape.Scale);
        void Fused() => device.Ops.Attention(q.View, k.View, v.View, o.View, shape);
        Time(Gemm); // warm-up: kernel compilation, GEMM packing buffers
        Time(Fused);
        var gemmSeconds = new List<double>();
        var fusedSeconds = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            gemmSeconds.Add(Time(Gemm));
            fusedSeconds.Add(Time(Fused));
        }
        double gemmMedian = gemmSeconds.Order().ElementAt(repeats / 2), fusedMedian = fusedSeconds.Order().ElementAt(repeats / 2);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "attention", spec = spec.Name, device = device.Description, gemm = gemm.Name, batch, seq = time, heads = h, headDim = hd,
            gemmAttentionMedianSeconds = gemmMedian, fusedAttentionMedianSeconds = fusedMedian,
            fusedOverGemm = fusedMedian / gemmMedian,
            chosenForInference = AttentionLayer.UsesGemmAttention(config, cache: null, pass) ? "gemm" : "fused",
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
