using System.Diagnostics;
using System.Text.Json;
using ILGPU.Runtime;
using OpenMoE.Kernels.Gemm;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Gemm;

namespace OpenMoE.Bench.Forward;

/// <summary>
/// <c>bench forward [--spec NAME] [--batch B] [--seq T] [--repeats R] [--logits all|last] [--capacity-factor CF]
/// [--device cpu|cuda] [--one-float-kernels] [--unfused] [--runtime-sizes] [--vs-training]</c>:
/// forward tokens/s of a randomly initialised model, kernel launches per forward and per layer, and its FLOP rate as
/// a ratio of the GEMM provider's rate on one of the model's own shapes measured in the same process
/// (how close the whole forward gets to its matrix-product ceiling). Also peak memory next to the fp32
/// weights (with --vs-training it includes the second network). --vs-training also times the training
/// step's forward on the same weights, batch and capacity factor, in turns with the inference forward.
/// </summary>
public static class ForwardBench
{
    public static int Run(string[] args)
    {
        string specName = Arg(args, "--spec", "OpenMoE-Tiny");
        int batch = int.Parse(Arg(args, "--batch", "1"));
        int time = int.Parse(Arg(args, "--seq", "512"));
        int repeats = int.Parse(Arg(args, "--repeats", "3"));
        // "last" is what generation does (logits of the last position only): the inference memory figure.
        bool lastOnly = Arg(args, "--logits", "all") == "last";
        var spec = ModelSpecs.Find(specName);
        var config = spec.Config;
        time = Math.Min(time, config.ContextLength);

        using var device = DeviceFactory.Create(DeviceFactory.Parse(Arg(args, "--device", "cpu")));
        // --one-float-kernels: the elementwise kernels CUDA runs, for comparing with the CPU's packed ones.
        if (args.Contains("--one-float-kernels"))
            device.Ops.PackedElementwise = false;
        Console.Error.WriteLine($"device {device.Description}; initialising {spec.Name} ({spec.TotalParams:N0} parameters)...");
        var weights = DeviceWeights.Load(device, spec, (p, sink) => WeightInitializer.Stream(config, p, 1, sink));
        using var model = new MoeTransformer(device, spec, weights);
        var random = new Random(1);
        int[] tokens = Enumerable.Range(0, batch * time).Select(_ => random.Next(config.Vocab)).ToArray();
        // One capacity factor for both forwards (the spec's evaluation factor unless given), so they route the same work.
        double capacityFactor = double.Parse(Arg(args, "--capacity-factor", config.EvalCapacityFactor.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            System.Globalization.CultureInfo.InvariantCulture);
        // --unfused: the sequence of unfused kernels the fused ones replace (ForwardOptions.FusedKernels), for a before/after in one build.
        bool fused = !args.Contains("--unfused");
        // --runtime-sizes: the runtime-size kernels instead of those specialised on the spec's dims (ForwardOptions.SizeSpecialised).
        bool specialised = !args.Contains("--runtime-sizes");
        var options = new ForwardOptions
        {
            CollectTrace = false, LastPositionOnly = lastOnly, CapacityFactor = capacityFactor, FusedKernels = fused, SizeSpecialised = specialised,
        };

        // --vs-training: the training step's forward (the same layers keeping their activations) on the
        // same weights and batch, timed in turns with the inference forward so both see the same machine.
        using var training = args.Contains("--vs-training")
            ? new TrainingNetwork(device, spec, DeviceWeights.Load(device, spec, (p, sink) => WeightInitializer.Stream(config, p, 1, sink)))
            : null;
        int[] targets = tokens.Select((_, i) => (i + 1) % time == 0 ? -1 : tokens[i + 1]).ToArray();
        model.Forward(tokens, batch, options); // warm-up: kernel compilation, workspace growth
        training?.ForwardBackward(tokens, targets, batch, capacityFactor);
        var seconds = new List<double>();
        var trainingForward = new List<double>();
        long launches = 0;
        ForwardLaunches? byLayer = null;
        for (int r = 0; r < repeats; r++)
        {
            long launchesBefore = device.Kernels.Launches;
            var clock = Stopwatch.StartNew();
            byLayer = model.Forward(tokens, batch, options).Launches;
            seconds.Add(clock.Elapsed.TotalSeconds);
            launches = device.Kernels.Launches - launchesBefore;
            Console.Error.WriteLine($"forward {r + 1}/{repeats}: {seconds[^1]:F3} s");
            if (training is not null)
            {
                trainingForward.Add(training.ForwardBackward(tokens, targets, batch, capacityFactor).ForwardSeconds);
                Console.Error.WriteLine($"training step's forward {r + 1}/{repeats}: {trainingForward[^1]:F3} s");
            }
        }
        double median = Median(seconds);
        double? trainingMedian = training is null ? null : Median(trainingForward);
        // Each repeat's pair ran back to back: the median of the pairs' ratios is less exposed to a noisy machine than a ratio of medians.
        double? pairRatio = training is null ? null : Median(trainingForward.Zip(seconds, (t, f) => t / f).ToList());
        double flops = ForwardFlops(spec, batch * time, time);
        double gemmRate = GemmRate(device, batch * time, config.Hidden, 2 * config.Ffn);
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        long weightBytes = spec.TotalParams * 4;

        var result = new
        {
            bench = "forward",
            spec = spec.Name,
            device = device.Description,
            gemm = model.GemmName,
            batch,
            seq = time,
            logits = lastOnly ? "last position" : "all positions",
            capacityFactor,
            packedElementwise = device.Ops.PackedElementwise,
            fusedKernels = fused,
            sizeSpecialised = specialised,
            medianSeconds = median,
            tokensPerSecond = batch * time / median,
            kernelLaunchesPerForward = launches,
            kernelLaunchesByLayer = byLayer?.Layers,
            kernelLaunchesPerDenseLayer = LayerLaunches(byLayer, config, moe: false),
            kernelLaunchesPerMoeLayer = LayerLaunches(byLayer, config, moe: true),
            forwardGflops = flops / 1e9,
            achievedGflopsPerSecond = flops / median / 1e9,
            gemmGflopsPerSecondSameRun = gemmRate / 1e9,
            ratioToGemmCeiling = flops / median / gemmRate,
            weightBytesFp32 = weightBytes,
            peakWorkingSetBytes = peak,
            peakOverWeights = (double)peak / weightBytes,
            trainingForwardMedianSeconds = trainingMedian,
            trainingForwardOverInferenceForward = pairRatio,
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>The launches of the first layer of the kind in the last forward (null if the model has none).</summary>
    private static long? LayerLaunches(ForwardLaunches? launches, ModelConfig config, bool moe) =>
        launches is null ? null : Enumerable.Range(0, config.Layers).Where(l => config.IsMoeLayer(l) == moe).Select(l => (long?)launches.Layers[l]).FirstOrDefault();

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>
    /// Matrix-product FLOPs of one forward: 2 per activated weight per token (attention, dense,
    /// routed top-k experts, extra FFN, router) plus the LM head, plus attention's QK^T and PV.
    /// </summary>
    private static double ForwardFlops(ModelSpecInfo spec, int tokens, int time)
    {
        var c = spec.Config;
        double weights = spec.ActivatedParams + (double)c.Vocab * c.Hidden;
        double attention = 2.0 * 2.0 * c.Layers * c.Heads * c.HeadDim * (time + 1) / 2.0;
        return tokens * (2.0 * weights + attention);
    }

    /// <summary>FLOP/s of the device's GEMM provider on [tokens, D] x [D, 2F]^T (the gate projection).</summary>
    private static double GemmRate(ComputeDevice device, int m, int k, int n)
    {
        using var gemm = GemmProviders.Create(device.Accelerator);
        using var a = device.Allocate<float>((long)m * k, "bench A");
        using var b = device.Allocate<float>((long)n * k, "bench B");
        using var c = device.Allocate<float>((long)m * n, "bench C");
        a.MemSetToZero();
        b.MemSetToZero();
        var desc = GemmDesc.Create(m, n, k, transB: true);
        gemm.Sgemm(desc, a.View, b.View, c.View);
        device.Synchronize();
        var times = new List<double>();
        for (int r = 0; r < 5; r++)
        {
            var clock = Stopwatch.StartNew();
            gemm.Sgemm(desc, a.View, b.View, c.View);
            device.Synchronize();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return desc.Flops / times.Order().ElementAt(times.Count / 2);
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
