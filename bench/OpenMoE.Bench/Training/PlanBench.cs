using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training;
using OpenMoE.Training.Planning;

namespace OpenMoE.Bench.Training;

/// <summary>
/// The memory planner against this process's measured peak resident memory (VmHWM):
/// <c>bench plan [--spec S] [--batch B] [--seq T] [--train --optimizer adafactor|adamw]</c> on the CPU
/// accelerator. Training runs two steps and a checkpoint save (the plan includes the save's staging);
/// inference loads random weights and runs one forward. One scenario per process, so the peak is
/// that scenario's. Prints the plan, the peak and their ratio as JSON.
/// </summary>
public static class PlanBench
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
        int batch = int.Parse(Arg("--batch", "1"), CultureInfo.InvariantCulture);
        int seq = int.Parse(Arg("--seq", "128"), CultureInfo.InvariantCulture);
        string? optimizer = args.Contains("--train") ? Arg("--optimizer", "adafactor") : null;
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        var plan = MemoryPlanner.Plan(new PlanRequest(spec, Precision.Fp32, batch, seq) { Optimizer = optimizer }, DeviceMemory.Of(device), hostIsDevice: true);
        Console.Error.WriteLine(plan.Table());
        var clock = Stopwatch.StartNew();
        if (optimizer is null)
            Infer(device, spec, batch, seq);
        else
            Train(device, spec, batch, seq, optimizer, Arg("--data", "data/corpus"));
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        long peak = self.PeakWorkingSet64;
        var result = new
        {
            bench = "plan", spec = spec.Name, mode = optimizer is null ? "inference" : $"training ({optimizer})", batch, seq,
            planned_bytes = plan.TotalBytes, peak_resident_bytes = peak, planned_over_peak = plan.TotalBytes / (double)peak,
            device_peak_bytes = device.PeakBytes, seconds = clock.Elapsed.TotalSeconds,
            items = plan.Items.ToDictionary(i => i.What, i => i.Bytes),
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static void Infer(ComputeDevice device, ModelSpecInfo spec, int batch, int seq)
    {
        using var weights = DeviceWeights.Load(device, spec, (p, sink) => WeightInitializer.Stream(spec.Config, p, 1, sink));
        using var model = new MoeTransformer(device, spec, weights);
        var random = new Random(1);
        model.Forward(Enumerable.Range(0, batch * seq).Select(_ => random.Next(spec.Config.Vocab)).ToArray(), batch);
    }

    private static void Train(ComputeDevice device, ModelSpecInfo spec, int batch, int seq, string optimizer, string data)
    {
        string run = Directory.CreateTempSubdirectory("openmoe-bench-plan-").FullName;
        try
        {
            var options = new TrainerOptions
            {
                Spec = spec.Name, Data = data, Out = run, Steps = 2, Batch = batch, SequenceLength = seq,
                Objective = "causal", Optimizer = optimizer, LearningRate = 1e-3,
            };
            using var trainer = new Trainer(options, device);
            using var metrics = new MetricsLog(run, 0);
            var tokens = TrainingBench.RandomBatch(batch, seq, spec.Config.Vocab);
            for (int step = 0; step < 2; step++)
                trainer.TrainStep(tokens, metrics, Stopwatch.GetTimestamp());
            trainer.Save();
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }
}
