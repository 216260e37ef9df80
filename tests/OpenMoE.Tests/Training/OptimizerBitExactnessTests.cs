using OpenMoE.Kernels.Optimizers;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>
/// On the CPU accelerator the optimizer kernels give their reference twins' bits over several
/// steps (every sum runs in the twin's order), so running the twins on the host there (the
/// launchers' default) or the kernels gives one result; a GPU may fuse multiply-adds, so its bound
/// is the catalog's tolerance.
/// </summary>
public sealed class OptimizerBitExactnessTests : IClassFixture<CpuDeviceFixture>
{
    private readonly CpuDeviceFixture fixture;

    public OptimizerBitExactnessTests(CpuDeviceFixture fixture)
    {
        this.fixture = fixture;
        fixture.Device.Optimizers.HostLoops = false;
    }

    private static readonly ParameterInfo[] Tensors =
    [
        new("norm", [67], -1, ParameterRole.FinalNorm, -1),
        new("wide", [3, 5000], 0, ParameterRole.Query, -1),
        new("matrix", [130, 129], 0, ParameterRole.Key, -1),
        new("experts", [2, 128, 136], 1, ParameterRole.ExpertGate, -1),
    ];

    [Fact]
    public void AdamW_equals_its_reference_bit_for_bit()
    {
        var random = new Random(1);
        var values = Array.ConvertAll(Tensors, p => Values(random, p.Elements, 1f));
        var (m, v) = (Array.ConvertAll(Tensors, p => new float[p.Elements]), Array.ConvertAll(Tensors, p => new float[p.Elements]));
        using var harness = new OptimizerHarness(fixture.Device, Tensors, Array.ConvertAll(values, a => (float[])a.Clone()), Array.ConvertAll(Tensors, p => new float[p.Elements]));
        using var optimizer = new AdamW(fixture.Device, Tensors);
        for (int step = 1; step <= 3; step++)
        {
            var gradients = Array.ConvertAll(Tensors, p => Values(random, p.Elements, 0.1f));
            for (int i = 0; i < Tensors.Length; i++)
                harness.SetGradient(i, gradients[i]);
            optimizer.Step(harness.Parameters, step, 3e-3);
            for (int i = 0; i < Tensors.Length; i++)
            {
                var scalars = new AdamWStep
                {
                    Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, LearningRate = 3e-3, Decay = Tensors[i].Shape.Length >= 2 ? 0.01 : 0,
                    Correction1 = 1 - Math.Pow(0.9, step), Correction2 = 1 - Math.Pow(0.95, step),
                };
                AdamWKernels.Reference(values[i], gradients[i], m[i], v[i], scalars);
            }
        }
        var state = optimizer.DownloadState();
        for (int i = 0; i < Tensors.Length; i++)
        {
            Assert.Equal(Bits(values[i]), Bits(harness.Value(i)));
            Assert.Equal(Bits(m[i]), Bits(state["m/" + Tensors[i].Name]));
            Assert.Equal(Bits(v[i]), Bits(state["v/" + Tensors[i].Name]));
        }
    }

    [Fact]
    public void Adafactor_equals_its_reference_bit_for_bit_factored_and_full()
    {
        var random = new Random(2);
        var values = Array.ConvertAll(Tensors, p => Values(random, p.Elements, 1f));
        using var harness = new OptimizerHarness(fixture.Device, Tensors, Array.ConvertAll(values, a => (float[])a.Clone()), Array.ConvertAll(Tensors, p => new float[p.Elements]));
        using var optimizer = new Adafactor(fixture.Device, Tensors);
        var shapes = Array.ConvertAll(Tensors, p => (Slices: p.Shape.Length == 3 ? (int)p.Shape[0] : 1, Rows: p.Shape.Length >= 2 ? (int)p.Shape[^2] : 1, Cols: (int)p.Shape[^1]));
        var factored = Array.ConvertAll(shapes, s => s.Rows >= 128 && s.Cols >= 128);
        Assert.Equal([false, false, true, true], factored);
        var full = Array.ConvertAll(Tensors, p => new float[p.Elements]);
        var vr = Array.ConvertAll(shapes, s => new float[s.Slices * s.Rows]);
        var vc = Array.ConvertAll(shapes, s => new float[s.Slices * s.Cols]);
        for (int step = 1; step <= 3; step++)
        {
            var gradients = Array.ConvertAll(Tensors, p => Values(random, p.Elements, 0.1f));
            for (int i = 0; i < Tensors.Length; i++)
                harness.SetGradient(i, gradients[i]);
            optimizer.Step(harness.Parameters, step, 1e-2);
            var scalars = new AdafactorStep { Beta2 = 1.0 - Math.Pow(step, -0.8), Epsilon1 = 1e-30, Epsilon2 = 1e-3, ClipThreshold = 1.0, LearningRate = 1e-2 };
            for (int i = 0; i < Tensors.Length; i++)
                AdafactorKernels.Reference(values[i], gradients[i], full[i], vr[i], vc[i], new double[shapes[i].Slices], new double[shapes[i].Cols], factored[i], shapes[i].Slices, shapes[i].Rows, shapes[i].Cols, scalars);
        }
        var state = optimizer.DownloadState();
        for (int i = 0; i < Tensors.Length; i++)
        {
            Assert.Equal(Bits(values[i]), Bits(harness.Value(i)));
            if (factored[i])
            {
                Assert.Equal(Bits(vr[i]), Bits(state["vr/" + Tensors[i].Name]));
                Assert.Equal(Bits(vc[i]), Bits(state["vc/" + Tensors[i].Name]));
            }
            else
            {
                Assert.Equal(Bits(full[i]), Bits(state["v/" + Tensors[i].Name]));
            }
        }
    }

    [Theory]
    [InlineData("adafactor")]
    [InlineData("adamw")]
    public void Host_loops_and_kernels_train_to_the_same_bits(string name)
    {
        float[][] Train(bool hostLoops)
        {
            var ops = fixture.Device.Optimizers;
            var random = new Random(4);
            using var harness = new OptimizerHarness(fixture.Device, Tensors, Array.ConvertAll(Tensors, p => Values(random, p.Elements, 1f)), Array.ConvertAll(Tensors, p => new float[p.Elements]));
            using var optimizer = Optimizers.Create(name, fixture.Device, Tensors);
            using var clipping = new GradientClipping(fixture.Device, harness.Parameters);
            ops.HostLoops = hostLoops;
            try
            {
                for (int step = 1; step <= 3; step++)
                {
                    for (int i = 0; i < Tensors.Length; i++)
                        harness.SetGradient(i, Values(random, Tensors[i].Elements, 0.1f));
                    clipping.Clip(harness.Parameters, 1.0);
                    optimizer.Step(harness.Parameters, step, 1e-2);
                }
                return Array.ConvertAll(Enumerable.Range(0, Tensors.Length).ToArray(), harness.Value);
            }
            finally
            {
                ops.HostLoops = false;
            }
        }

        var (host, kernels) = (Train(hostLoops: true), Train(hostLoops: false));
        for (int i = 0; i < Tensors.Length; i++)
            Assert.Equal(Bits(kernels[i]), Bits(host[i]));
    }

    [Fact]
    public void Global_norm_equals_the_chunked_reference_bit_for_bit()
    {
        var random = new Random(3);
        var gradients = Array.ConvertAll(Tensors, p => Values(random, p.Elements, 0.1f));
        using var harness = new OptimizerHarness(fixture.Device, Tensors, Array.ConvertAll(Tensors, p => new float[p.Elements]), gradients);
        using var clipping = new GradientClipping(fixture.Device, harness.Parameters);
        double total = 0;
        foreach (var g in gradients)
            total = SumOfSquares.AddChunkSums(total, g);
        double expected = Math.Sqrt(total);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(clipping.GlobalNorm(harness.Parameters)));
    }

    private static float[] Values(Random random, long length, float scale) =>
        Enumerable.Range(0, (int)length).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    private static int[] Bits(float[] values) => Array.ConvertAll(values, BitConverter.SingleToInt32Bits);
}
