using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Bench.Kernels;

/// <summary>
/// Elementwise kernels on the CPU accelerator against a plain single-threaded C# loop over the
/// same data, measured in the same run; prints JSON with the time ratio per op (target: within 2x),
/// for the packed kernels the CPU accelerator runs and for the one-float kernels CUDA runs.
/// Also compares ILGPU's auto-grouped launch (one logical thread per element) with our grid-stride
/// launch, which is why every kernel is explicitly grouped.
/// Usage: <c>KernelBench.Run(["--elements", "1048576", "--iterations", "20"])</c>.
/// </summary>
public static class KernelBench
{
    /// <summary>Runs the bench; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        int elements = IntArg(args, "--elements", 1 << 20);
        int iterations = IntArg(args, "--iterations", 20);
        int autoElements = IntArg(args, "--auto-elements", 1 << 16);
        using var device = DeviceFactory.Create(DeviceKind.Cpu);
        var rows = new List<Dictionary<string, object>>();
        var random = new Random(1);
        float[] Floats(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        int d = 768, n = elements / d;
        var a = Floats(elements); var b = Floats(elements); var g = Floats(2 * elements); var outHost = new float[elements];
        using var aDev = device.Upload(a, "a"); using var bDev = device.Upload(b, "b"); using var gDev = device.Upload(g, "g");
        using var outDev = device.Allocate<float>(elements, "out");
        var tokens = Enumerable.Range(0, n).Select(i => (i * 7919) % n).ToArray();
        using var tokensDev = device.Upload(tokens, "tokens");

        rows.Add(MeasureBothLayouts(device, "residual-add", elements, iterations,
            () => device.Ops.ResidualAdd(outDev.View, aDev.View, elements),
            () => { for (int i = 0; i < elements; i++) outHost[i] += a[i]; }));
        rows.Add(MeasureBothLayouts(device, "swiglu", elements, iterations,
            () => device.Ops.SwiGlu(aDev.View, bDev.View, outDev.View, elements),
            () => { for (int i = 0; i < elements; i++) outHost[i] = a[i] / (1.0f + MathF.Exp(-a[i])) * b[i]; }));
        rows.Add(MeasureBothLayouts(device, "openmoe-gated-activation", elements, iterations,
            () => device.Ops.OpenMoeGatedActivation(gDev.View, bDev.View, outDev.View, n, d),
            () =>
            {
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < d; c++)
                    {
                        float x2 = g[2 * r * d + d + c];
                        outHost[r * d + c] = g[2 * r * d + c] * (x2 / (1.0f + MathF.Exp(-x2))) * b[r * d + c];
                    }
            }));
        rows.Add(MeasureBothLayouts(device, "embedding-gather", (long)n * d, iterations,
            () => device.Ops.Embedding(tokensDev.View, aDev.View, outDev.View, n, d, n),
            () => { for (int r = 0; r < n; r++) for (int c = 0; c < d; c++) outHost[r * d + c] = a[tokens[r] * d + c]; }));
        rows.Add(MeasureBothLayouts(device, "rmsnorm", elements, iterations,
            () => device.Ops.RmsNorm(aDev.View, bDev.View, outDev.View, n, d, 1e-6f),
            () =>
            {
                for (int r = 0; r < n; r++)
                {
                    float sum = 0;
                    for (int c = 0; c < d; c++) sum += a[r * d + c] * a[r * d + c];
                    float scale = 1.0f / MathF.Sqrt(sum / d + 1e-6f);
                    for (int c = 0; c < d; c++) outHost[r * d + c] = a[r * d + c] * scale * b[c];
                }
            }));

        var slotTokens = tokens.Select((t, i) => i % 5 == 4 ? -1 : t).ToArray();
        using var slotTokensDev = device.Upload(slotTokens, "slotTokens");
        rows.Add(MeasureBothLayouts(device, "moe-dispatch", (long)n * d, iterations,
            () => device.Ops.MoeDispatch(aDev.View, slotTokensDev.View, outDev.View, n, d),
            () =>
            {
                for (int r = 0; r < n; r++)
                    for (int c = 0; c < d; c++)
                        outHost[r * d + c] = slotTokens[r] >= 0 ? a[slotTokens[r] * d + c] : 0.0f;
            }));
        var tokenRows = Enumerable.Range(0, 2 * n).Select(i => i % 7 == 6 ? -1 : (i * 7919 + 13) % n).ToArray();
        var tokenWeights = Floats(2 * n);
        using var tokenRowsDev = device.Upload(tokenRows, "tokenRows"); using var tokenWeightsDev = device.Upload(tokenWeights, "tokenWeights");
        rows.Add(MeasureBothLayouts(device, "moe-combine", (long)n * d, iterations,
            () => device.Ops.MoeCombine(aDev.View, tokenRowsDev.View, tokenWeightsDev.View, outDev.View, n, 2, d),
            () =>
            {
                for (int t = 0; t < n; t++)
                {
                    for (int c = 0; c < d; c++)
                        outHost[t * d + c] = 0.0f;
                    for (int j = 0; j < 2; j++)
                    {
                        int row = tokenRows[2 * t + j];
                        if (row < 0)
                            continue;
                        float weight = tokenWeights[2 * t + j];
                        for (int c = 0; c < d; c++)
                            outHost[t * d + c] += weight * a[row * d + c];
                    }
                }
            }));
        int vocab = 1024, softmaxRows = elements / vocab;
        rows.Add(MeasureBothLayouts(device, "log-softmax", elements, iterations,
            () => device.Ops.LogSoftmax(aDev.View, outDev.View, softmaxRows, vocab),
            () =>
            {
                for (int r = 0; r < softmaxRows; r++)
                {
                    float max = float.NegativeInfinity;
                    for (int c = 0; c < vocab; c++) max = MathF.Max(max, a[r * vocab + c]);
                    float sum = 0;
                    for (int c = 0; c < vocab; c++) sum += MathF.Exp(a[r * vocab + c] - max);
                    float logSumExp = max + MathF.Log(sum);
                    for (int c = 0; c < vocab; c++) outHost[r * vocab + c] = a[r * vocab + c] - logSumExp;
                }
            }));
        var rope = new RopeShape { Batch = 1, Time = n, Heads = 12, HeadDim = 64, PositionOffset = 0, Theta = 10000f };
        rows.Add(Measure(device, "rope", (long)n * d, iterations,
            () => device.Ops.Rope(outDev.View, rope),
            () =>
            {
                int half = rope.HeadDim / 2;
                float logTheta = MathF.Log(rope.Theta);
                for (int t = 0; t < n; t++)
                    for (int h = 0; h < rope.Heads; h++)
                        for (int i = 0; i < half; i++)
                        {
                            float angle = t * MathF.Exp(-(2.0f * i / rope.HeadDim) * logTheta);
                            float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                            int lo = (t * rope.Heads + h) * rope.HeadDim + i;
                            float x0 = outHost[lo], x1 = outHost[lo + half];
                            outHost[lo] = x0 * cos - x1 * sin;
                            outHost[lo + half] = x1 * cos + x0 * sin;
                        }
            }));

        var attentionShape = new AttentionShape
        {
            Batch = 1, QueryTime = 512, PastLength = 0, CacheLength = 512, Heads = 12, KvHeads = 12, HeadDim = 64, Scale = 1,
        };
        int attentionElements = 512 * 12 * 64;
        var q = Floats(attentionElements); var kv = Floats(attentionElements); var attentionHost = new float[attentionElements];
        using var qDev = device.Upload(q, "q"); using var kvDev = device.Upload(kv, "kv");
        using var attentionOut = device.Allocate<float>(attentionElements, "o");
        var attention = Measure(device, "attention-base-T512", attentionElements, 3,
            () => device.Ops.Attention(qDev.View, kvDev.View, kvDev.View, attentionOut.View, attentionShape),
            () => Attention.Reference(q, kv, kv, attentionHost, attentionShape));
        attention["note"] = "launcher = host SIMD path on the CPU accelerator; loop = the double-precision reference twin";
        rows.Add(attention);
        var attentionKernel = Measure(device, "attention-ilgpu-kernel-base-T512", attentionElements, 3,
            () => device.Ops.AttentionKernel(qDev.View, kvDev.View, kvDev.View, attentionOut.View, attentionShape),
            () => Attention.Reference(q, kv, kv, attentionHost, attentionShape));
        attentionKernel["note"] = "the ILGPU kernel itself on the CPU accelerator (what CUDA runs)";
        rows.Add(attentionKernel);

        var autoKernel = device.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AutoGroupedSwiGlu);
        var autoA = aDev.View.SubView(0, autoElements);
        // Both one float per element: the comparison is about grouping, not packing.
        device.Ops.PackedElementwise = false;
        var gridStride = Measure(device, "swiglu-grid-stride", autoElements, iterations,
            () => device.Ops.SwiGlu(autoA, bDev.View, outDev.View, autoElements), () => { });
        device.Ops.PackedElementwise = true;
        var autoGrouped = Measure(device, "swiglu-auto-grouped", autoElements, Math.Min(iterations, 5),
            () => autoKernel(autoElements, autoA, bDev.View, outDev.View), () => { });

        var report = new Dictionary<string, object>
        {
            ["bench"] = "kernels-elementwise-cpu",
            ["device"] = device.Description,
            ["processors"] = Environment.ProcessorCount,
            ["elements"] = elements,
            ["iterations"] = iterations,
            ["ops"] = rows,
            ["launch_modes"] = new Dictionary<string, object>
            {
                ["elements"] = autoElements,
                ["grid_stride_ms"] = gridStride["kernel_ms"],
                ["auto_grouped_ms"] = autoGrouped["kernel_ms"],
                ["auto_over_grid_stride"] = Math.Round((double)autoGrouped["kernel_ms"] / (double)gridStride["kernel_ms"], 1),
            },
        };
        Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>One logical thread per element: ILGPU's implicit grouping, for the launch-mode comparison only.</summary>
    private static void AutoGroupedSwiGlu(Index1D i, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h)
        => h[i] = Activations.Silu(gate[i]) * up[i];

    /// <summary>
    /// Times the launcher (synchronised) and the loop in alternating rounds, so load from other
    /// processes hits both alike; reports the median and the fastest round of each and their ratios.
    /// </summary>
    private static Dictionary<string, object> Measure(ComputeDevice device, string name, long elements, int iterations,
        Action kernel, Action loop)
    {
        var (kernelMedian, kernelMin, loopMedian, loopMin) = Alternating(iterations, () => { kernel(); device.Synchronize(); }, loop);
        return new Dictionary<string, object>
        {
            ["op"] = name,
            ["elements"] = elements,
            ["kernel_ms"] = Math.Round(kernelMedian, 3),
            ["csharp_loop_ms"] = Math.Round(loopMedian, 3),
            ["kernel_over_loop"] = Ratio(kernelMedian, loopMedian),
            ["kernel_min_ms"] = Math.Round(kernelMin, 3),
            ["csharp_loop_min_ms"] = Math.Round(loopMin, 3),
            ["kernel_over_loop_min"] = Ratio(kernelMin, loopMin),
        };
    }

    /// <summary>
    /// An elementwise op as the CPU accelerator runs it (packed kernels, the default) and with the
    /// one-float kernels that CUDA runs, each against the same plain loop.
    /// </summary>
    private static Dictionary<string, object> MeasureBothLayouts(ComputeDevice device, string name, long elements, int iterations,
        Action kernel, Action loop)
    {
        var row = Measure(device, name, elements, iterations, kernel, loop);
        device.Ops.PackedElementwise = false;
        try
        {
            var oneFloat = Measure(device, name, elements, iterations, kernel, loop);
            row["one_float_kernel_ms"] = oneFloat["kernel_ms"];
            row["one_float_kernel_over_loop"] = oneFloat["kernel_over_loop"];
        }
        finally
        {
            device.Ops.PackedElementwise = true;
        }
        return row;
    }

    private static double Ratio(double numerator, double denominator) => denominator > 0 ? Math.Round(numerator / denominator, 2) : 0.0;

    private static (double FirstMedian, double FirstMin, double SecondMedian, double SecondMin) Alternating(int iterations, Action first, Action second)
    {
        for (int i = 0; i < 2; i++)
        {
            first();
            second();
        }
        var firstTimes = new double[iterations];
        var secondTimes = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            firstTimes[i] = Time(first);
            secondTimes[i] = Time(second);
        }
        Array.Sort(firstTimes);
        Array.Sort(secondTimes);
        return (firstTimes[iterations / 2], firstTimes[0], secondTimes[iterations / 2], secondTimes[0]);
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
