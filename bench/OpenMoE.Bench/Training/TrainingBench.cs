using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenMoE.Training.Data;
using OpenMoE.Model.Specs;
using OpenMoE.Training;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Bench.Training;

/// <summary>
/// Training throughput: <c>bench training [--spec S] [--batch B] [--seq T] [--steps N] [--warmup W] [--device cpu|cuda] [--optimizer adafactor|adamw]</c>
/// (with <c>--optimizer-only</c>, clipping and the optimizer alone: <see cref="OptimizerBench"/>).
/// Runs <see cref="Trainer"/> steps on one batch of random tokens and reports the phase times of
/// <see cref="StepTimings"/> (forward+backward, clipping + optimizer on the device), after W untimed
/// warmup steps (kernel compilation). Prints one JSON object, with the managed bytes allocated per
/// timed step on all threads (ILGPU's own per-launch objects included; the test
/// SteadyStateAllocationTests separates them), the device buffers allocated, the kernel launches and
/// the bytes moved between host and device per timed step (<see cref="HostTransfers"/>).
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
        {
            using var optimizerDevice = DeviceFactory.Create(DeviceFactory.Parse(Arg("--device", "cpu")));
            return OptimizerBench.Run(optimizerDevice, spec, steps, optimizerName);
        }

        using var device = DeviceFactory.Create(DeviceFactory.Parse(Arg("--device", "cpu")));
        string run = Directory.CreateTempSubdirectory("openmoe-bench-training-").FullName;
        try
        {
            var options = new TrainerOptions
            {
                Spec = spec.Name, Data = Arg("--data", "data/corpus"), Out = run, Steps = warmup + steps, Batch = batch,
                SequenceLength = seq, Objective = "causal", Optimizer = optimizerName, LearningRate = 1e-3,
            };
            using var trainer = new Trainer(options, device);
            using var metrics = new MetricsLog(run, 0);
            var tokens = RandomBatch(batch, seq, spec.Config.Vocab);
            int n = batch * seq;

            double forwardBackward = 0, forward = 0, update = 0;
            long allocated = 0, deviceBuffers = 0, launches = 0, transferred = 0;
            for (int step = 1; step <= warmup + steps; step++)
            {
                long bytes = GC.GetTotalAllocatedBytes(precise: true), buffers = device.Allocations, launchesBefore = device.Kernels.Launches, transfersBefore = HostTransfers.Bytes;
                var timings = trainer.TrainStep(tokens, metrics, Stopwatch.GetTimestamp()).Timings;
                if (step <= warmup)
                    continue;
                forwardBackward += timings.ForwardBackward; forward += timings.Forward; update += timings.Update;
                allocated += GC.GetTotalAllocatedBytes(precise: true) - bytes;
                deviceBuffers += device.Allocations - buffers;
                launches += device.Kernels.Launches - launchesBefore;
                transferred += HostTransfers.Bytes - transfersBefore;
            }
            double total = forwardBackward + update;
            var result = new
            {
                bench = "training", spec = spec.Name, device = device.Description, gemm = trainer.GemmName, optimizer = optimizerName,
                parameters = trainer.ParameterCount, batch, seq, steps,
                tokens_per_s = n * steps / total,
                forward_backward_tokens_per_s = n * steps / forwardBackward,
                seconds_per_step = total / steps,
                forward_backward_s = forwardBackward / steps, forward_s = forward / steps, update_s = update / steps,
                host_bytes_allocated_per_step = allocated / steps,
                device_buffers_allocated_per_step = (double)deviceBuffers / steps,
                kernel_launches_per_step = (double)launches / steps,
                host_device_bytes_per_step = (double)transferred / steps,
                weight_bytes = trainer.ParameterCount * sizeof(float),
            };
            Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    /// <summary>B x T random tokens, each position's target the next token (none after the last).</summary>
    internal static PackedBatch RandomBatch(int batch, int seq, int vocab)
    {
        var random = new Random(1);
        var packed = new PackedBatch(batch, seq, ["random"], ["none"]);
        for (int i = 0; i < packed.Inputs.Length; i++)
            packed.Inputs[i] = random.Next(vocab);
        for (int i = 0; i < packed.Inputs.Length; i++)
        {
            bool last = i % seq == seq - 1;
            packed.Labels[i] = last ? 0 : packed.Inputs[i + 1];
            packed.LossMask[i] = last ? 0f : 1f;
        }
        return packed;
    }
}
