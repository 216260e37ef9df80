using System.Diagnostics;
using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Training;

namespace OpenMoE.Bench.Training;

/// <summary>
/// Clipping and the optimizer alone, on the spec's full parameter set in device buffers:
/// <c>bench training --optimizer-only [--spec S] [--steps N] [--optimizer adafactor|adamw] [--device D]</c>.
/// Times global-norm clipping and the optimizer per step after one untimed step, with fresh
/// gradients uploaded before every step (untimed). Values and gradients are pseudo-random (the
/// cost does not depend on them), which keeps set-up fast even for 800M parameters.
/// </summary>
internal static class OptimizerBench
{
    public static int Run(ComputeDevice device, ModelSpecInfo spec, int steps, string optimizerName)
    {
        var infos = spec.Parameters.ToArray();
        var values = Array.ConvertAll(infos, p => device.Upload(Filled(p.Elements, (ulong)Array.IndexOf(infos, p) + 1, 0.02f), p.Name));
        var gradients = Array.ConvertAll(infos, p => device.Allocate<float>(p.Elements, p.Name + " gradient"));
        var parameters = new DeviceParameters(infos, Array.ConvertAll(values, b => (ArrayView<float>)b.View), Array.ConvertAll(gradients, b => (ArrayView<float>)b.View));
        using var optimizer = Optimizers.Create(optimizerName, device, infos);
        using var clipping = new GradientClipping(device, parameters);
        var host = new float[infos.Max(p => p.Elements)];
        double clip = 0, update = 0;
        for (int step = 0; step <= steps; step++)
        {
            for (int i = 0; i < infos.Length; i++)
            {
                var chunk = host.AsSpan(0, (int)infos[i].Elements);
                Fill(chunk, (ulong)(step * 7919 + i), 1e-3f);
                ((ArrayView<float>)gradients[i].View).CopyFromCPU(device.Accelerator.DefaultStream, (ReadOnlySpan<float>)chunk);
            }
            device.Synchronize();
            long start = Stopwatch.GetTimestamp();
            clipping.Clip(parameters, 1.0);
            double t1 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            optimizer.Step(parameters, step + 1, 1e-3);
            device.Synchronize();
            double t2 = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (step == 0) continue;
            clip += t1; update += t2 - t1;
        }
        var result = new
        {
            bench = "training-optimizer", spec = spec.Name, device = device.Description, optimizer = optimizerName, parameters = spec.TotalParams, steps,
            clip_s = clip / steps, optimizer_s = update / steps,
            optimizer_ns_per_parameter = update / steps * 1e9 / spec.TotalParams,
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        foreach (var buffer in values.Concat(gradients))
            buffer.Dispose();
        return 0;
    }

    /// <summary>A new array of <paramref name="length"/> pseudo-random values (see <see cref="Fill"/>).</summary>
    private static float[] Filled(long length, ulong seed, float scale)
    {
        var values = new float[length];
        Fill(values, seed, scale);
        return values;
    }

    /// <summary>Fills <paramref name="values"/> with uniform values in [-scale, scale) from a 64-bit LCG seeded by <paramref name="seed"/>.</summary>
    private static void Fill(Span<float> values, ulong seed, float scale)
    {
        ulong state = seed * 6364136223846793005UL + 1442695040888963407UL;
        for (int i = 0; i < values.Length; i++)
        {
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            values[i] = ((state >> 40) / (float)(1 << 24) * 2 - 1) * scale;
        }
    }
}
