using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenMoE.Model.Network;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training;

namespace OpenMoE.Bench.Training;

/// <summary>
/// Routing rules side by side: <c>bench routing-rules [--spec S] [--steps N] [--batch B] [--seq T] [--seed X]
/// [--window W] [--data D] [--device cpu|cuda] [--rules "token-choice;expert-choice;aux-free"]</c>. Trains the
/// same model from the same seed on the same batches for N steps under each rule (token choice with the
/// load-balancing loss = the spec's rule, expert choice, auxiliary-loss-free bias balancing), and reports,
/// averaged over the last W steps and the MoE layers: cross-entropy, the coefficient of variation of the
/// per-expert load (selection before dropping, and kept), the share of dropped assignments and of tokens
/// that reach no expert. Each rule's numbers come with their ratio to token choice's, measured in the same run.
/// </summary>
public static class RoutingRulesBench
{
    /// <summary>Runs the bench; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        int steps = int.Parse(Arg("--steps", "200"), CultureInfo.InvariantCulture);
        int window = Math.Min(steps, int.Parse(Arg("--window", "20"), CultureInfo.InvariantCulture));
        var rules = Arg("--rules", "token-choice;expert-choice;aux-free").Split(';'); // ";": a rule itself may hold commas
        using var device = DeviceFactory.Create(DeviceFactory.Parse(Arg("--device", "cpu")));
        var results = new List<Dictionary<string, object>>();
        foreach (string rule in rules)
        {
            string run = Directory.CreateTempSubdirectory("openmoe-bench-routing-").FullName;
            try
            {
                var options = new TrainerOptions
                {
                    Spec = Arg("--spec", "OpenMoE-Tiny"), Data = Arg("--data", "data/corpus"), Out = run, Steps = steps,
                    Batch = int.Parse(Arg("--batch", "4"), CultureInfo.InvariantCulture), SequenceLength = int.Parse(Arg("--seq", "64"), CultureInfo.InvariantCulture),
                    Objective = "causal", Optimizer = "adafactor", LearningRate = 0.01, Warmup = 10,
                    Seed = ulong.Parse(Arg("--seed", "1"), CultureInfo.InvariantCulture),
                    // token-choice is the spec's own rule (OpenMoE: top-2 token choice with the load-balancing loss).
                    Routing = rule == "token-choice" ? null : rule,
                };
                Console.Error.WriteLine($"routing-rules: {rule}, {steps} steps");
                var averages = new Window(window);
                long start = Stopwatch.GetTimestamp();
                using (var trainer = new Trainer(options, device))
                    trainer.Run(report => averages.Add(report, steps));
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                results.Add(averages.Summary(rule, seconds / steps));
            }
            finally
            {
                Directory.Delete(run, recursive: true);
            }
        }
        var baseline = results[0];
        foreach (var result in results)
        {
            foreach (string key in new[] { "crossEntropy", "selectionLoadCv", "keptLoadCv" })
                result[key + "VsFirst"] = (double)baseline[key] == 0 ? double.NaN : (double)result[key] / (double)baseline[key];
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "routing-rules", spec = Arg("--spec", "OpenMoE-Tiny"), steps, window, device = device.Description,
            note = "averages over the last `window` steps and all MoE layers; *VsFirst = ratio to the first rule (same run, same seed and batches)",
            rules = results,
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return 0;
    }

    /// <summary>Averages of the last steps; copies the counts because the step records are overwritten.</summary>
    private sealed class Window(int size)
    {
        private double _ce, _selectionCv, _keptCv, _dropped, _unrouted, _loadBalancing;
        private int _count;

        public void Add(StepReport report, int steps)
        {
            if (report.Step <= steps - size)
                return;
            _count++;
            _ce += report.CrossEntropy;
            _loadBalancing += report.LoadBalancing;
            foreach (var layer in report.MoeLayers)
            {
                _selectionCv += Cv(layer.ExpertDemand) / report.MoeLayers.Length;
                _keptCv += Cv(layer.ExpertLoad) / report.MoeLayers.Length;
                _dropped += layer.DropRatio / report.MoeLayers.Length;
                _unrouted += layer.UnroutedTokens / report.MoeLayers.Length;
            }
        }

        public Dictionary<string, object> Summary(string rule, double secondsPerStep) => new()
        {
            ["rule"] = rule,
            ["crossEntropy"] = _ce / _count,
            ["loadBalancingLoss"] = _loadBalancing / _count,
            ["selectionLoadCv"] = _selectionCv / _count,
            ["keptLoadCv"] = _keptCv / _count,
            ["droppedAssignments"] = _dropped / _count,
            ["tokensWithoutExpert"] = _unrouted / _count,
            ["secondsPerStep"] = secondsPerStep,
        };

        // Standard deviation over mean of the per-expert counts (0 = every expert equally loaded).
        private static double Cv(int[] load)
        {
            double mean = load.Average();
            return mean == 0 ? 0 : Math.Sqrt(load.Average(l => (l - mean) * (l - mean))) / mean;
        }
    }
}
