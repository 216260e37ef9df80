using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenMoE.Model.Network;
using OpenMoE.Model.Network.Backward;
using OpenMoE.Model.Specs;
using OpenMoE.Model.Training;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Bench.Training;

/// <summary>
/// Training throughput: <c>bench training [--spec S] [--batch B] [--seq T] [--steps N] [--warmup W] [--device cpu|cuda] [--optimizer adafactor|adamw]</c>
/// (with <c>--optimizer-only</c>, the host optimizer alone: <see cref="OptimizerBench"/>).
/// Times forward+backward, the gradient download, and the optimizer step separately on random
/// tokens, after W untimed warmup steps (kernel compilation). Prints one JSON object, with the managed
/// bytes allocated per timed step on all threads (ILGPU's own per-launch objects included; the test
/// SteadyStateAllocationTests separates them) and the device buffers allocated per timed step.
/// </summary>
public static class TrainingBench
{
    /// <summary>Runs the bench; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var spec = ModelSpecs.Find(Arg("--spec", "OpenMoE-Tiny"));
        int batch = int.Parse(Arg("--batch", "8"), CultureInfo.InvariantCulture);
        int seq = int.Parse(Arg("--seq", "128"), CultureInfo.InvariantCulture);
        int steps = int.Parse(Arg("--steps", "5"), CultureInfo.InvariantCulture);
        int warmup = int.Parse(Arg("--warmup", "1"), CultureInfo.InvariantCulture);
        string optimizerName = Arg("--optimizer", "adafactor");
        if (args.Contains("--optimizer-only"))
            return OptimizerBench.Run(spec, steps, optimizerName);

        using var device = DeviceFactory.Create(DeviceFactory.Parse(Arg("--device", "cpu")));
        var parameters = new HostParameters(spec, p => OpenMoE.Model.Initialization.WeightInitializer.Create(spec.Config, p, 1));
        using var network = new TrainingNetwork(device, spec, DeviceWeights.Load(device, spec, p => parameters.Values[Array.IndexOf(parameters.Infos, p)]));
        var optimizer = Optimizers.Create(optimizerName, parameters);
        using var transfers = new ParameterTransfers(parameters, device, network.Weights, network.Gradients);
        var clipping = new GradientClipping(parameters.Gradients);
        var random = new Random(1);
        int n = batch * seq;
        var tokens = Enumerable.Range(0, n).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
        var targets = tokens.Select((_, i) => i % seq == seq - 1 ? -1 : tokens[i + 1]).ToArray();

        double forwardBackward = 0, download = 0, update = 0;
        long allocated = 0, deviceBuffers = 0;
        for (int step = 1; step <= warmup + steps; step++)
        {
            bool timed = step > warmup;
            long bytes = GC.GetTotalAllocatedBytes(precise: true), buffers = device.Allocations;
            long start = Stopwatch.GetTimestamp();
            network.ForwardBackward(tokens, targets, batch, spec.Config.TrainCapacityFactor);
            double t1 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            transfers.DownloadGradients();
            double t2 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            clipping.Clip(1.0);
            optimizer.Step(parameters, step, 1e-3);
            transfers.UploadValues();
            double t3 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (!timed) continue;
            forwardBackward += t1; download += t2 - t1; update += t3 - t2;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - bytes;
            deviceBuffers += device.Allocations - buffers;
        }
        double total = forwardBackward + download + update;
        var result = new
        {
            bench = "training", spec = spec.Name, device = device.Description, gemm = network.GemmName, optimizer = optimizerName,
            parameters = parameters.Count, batch, seq, steps,
            tokens_per_s = n * steps / total,
            forward_backward_tokens_per_s = n * steps / forwardBackward,
            seconds_per_step = total / steps,
            forward_backward_s = forwardBackward / steps, gradient_download_s = download / steps, optimizer_s = update / steps,
            host_bytes_allocated_per_step = allocated / steps,
            device_buffers_allocated_per_step = (double)deviceBuffers / steps,
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }
}
