using System.Diagnostics;
using System.Text.Json;
using OpenMoE.Model.Specs;
using OpenMoE.Training;

namespace OpenMoE.Bench.Training;

/// <summary>
/// The host side of a training step alone, on the spec's full parameter set without a device:
/// <c>bench training --optimizer-only [--spec S] [--steps N] [--optimizer adafactor|adamw]</c>. Times
/// global-norm clipping and the optimizer per step after one untimed step, with fresh gradients
/// before every step (untimed). Values and gradients are pseudo-random (the cost does not depend
/// on them), which keeps set-up fast even for 800M parameters.
/// </summary>
internal static class OptimizerBench
{
    public static int Run(ModelSpecInfo spec, int steps, string optimizerName)
    {
        ulong tensor = 0;
        var parameters = new HostParameters(spec, p => Fill(new float[p.Elements], ++tensor, 0.02f));
        var optimizer = Optimizers.Create(optimizerName, parameters);
        var clipping = new GradientClipping(parameters.Gradients);
        double clip = 0, update = 0;
        for (int step = 0; step <= steps; step++)
        {
            Parallel.For(0, parameters.Gradients.Length, i => Fill(parameters.Gradients[i], (ulong)(step * 7919 + i), 1e-3f));
            long start = Stopwatch.GetTimestamp();
            clipping.Clip(1.0);
            double t1 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            optimizer.Step(parameters, step + 1, 1e-3);
            double t2 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (step == 0) continue;
            clip += t1; update += t2 - t1;
        }
        var result = new
        {
            bench = "training-optimizer", spec = spec.Name, optimizer = optimizerName, parameters = parameters.Count, steps,
            threads = Environment.ProcessorCount,
            clip_s = clip / steps, optimizer_s = update / steps,
            optimizer_ns_per_parameter = update / steps * 1e9 / parameters.Count,
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>Uniform values in [-scale, scale) from a 64-bit LCG seeded by <paramref name="seed"/>.</summary>
    private static float[] Fill(float[] values, ulong seed, float scale)
    {
        ulong state = seed * 6364136223846793005UL + 1442695040888963407UL;
        for (int i = 0; i < values.Length; i++)
        {
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            values[i] = ((state >> 40) / (float)(1 << 24) * 2 - 1) * scale;
        }
        return values;
    }
}
