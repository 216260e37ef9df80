using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Kernels;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>The device optimizers and clipping against steps computed by hand, per device.</summary>
public abstract class OptimizerTests<TFixture>(TFixture fixture) : IClassFixture<TFixture> where TFixture : DeviceFixture
{
    private ComputeDevice Device => fixture.Device;

    private OptimizerHarness Harness(ParameterInfo info, float[] values, float[] gradient) => new(Device, [info], [values], [gradient]);

    [Fact]
    public void Adafactor_first_step_of_a_vector_is_lr_times_param_rms_times_sign()
    {
        // Step 1: beta2 = 1 - 1^-0.8 = 0, so v = g^2 and u = g/|g| = sign(g); RMS(u) = 1 (no clipping);
        // step size = lr * max(1e-3, RMS(w)) with RMS(w) = sqrt((9 + 16) / 2).
        using var p = Harness(new ParameterInfo("w", [2], -1, ParameterRole.FinalNorm, -1), [3f, -4f], [0.5f, 2f]);
        using var optimizer = new Adafactor(Device, p.Infos);
        optimizer.Step(p.Parameters, 1, 0.1);
        double size = 0.1 * Math.Sqrt(12.5);
        Assert.Equal(3 - size, p.Value(0)[0], 5);
        Assert.Equal(-4 - size, p.Value(0)[1], 5);
    }

    [Fact]
    public void Adafactor_second_step_uses_decayed_moments_and_clips_the_update()
    {
        using var p = Harness(new ParameterInfo("w", [2], -1, ParameterRole.FinalNorm, -1), [1f, 1f], [1f, 1f]);
        using var optimizer = new Adafactor(Device, p.Infos);
        optimizer.Step(p.Parameters, 1, 0.01); // v = [1, 1]
        p.SetGradient(0, [2f, 0f]);
        var w = p.Value(0);
        optimizer.Step(p.Parameters, 2, 0.01);
        double beta2 = 1 - Math.Pow(2, -0.8);
        double v0 = beta2 * 1 + (1 - beta2) * 4, v1 = beta2 * 1;
        double u0 = 2 / Math.Sqrt(v0), u1 = 0 / Math.Sqrt(v1);
        double rms = Math.Sqrt((u0 * u0 + u1 * u1) / 2);
        double size = 0.01 * Math.Sqrt((w[0] * (double)w[0] + w[1] * (double)w[1]) / 2) / Math.Max(1, rms);
        Assert.Equal(w[0] - size * u0, p.Value(0)[0], 6);
        Assert.Equal(w[1], p.Value(0)[1], 6);
        Assert.Equal((float)v0, optimizer.DownloadState()["v/w"][0], 6);
    }

    [Fact]
    public void Adafactor_factors_matrices_into_row_and_column_means()
    {
        // 2x2 with minDimToFactor 2: vr = row means of g^2, vc = column means; u = g / sqrt(vr/mean(vr) * vc).
        using var p = Harness(new ParameterInfo("w", [2, 2], 0, ParameterRole.Query, -1), [1f, 1f, 1f, 1f], [1f, 2f, 3f, 4f]);
        using var optimizer = new Adafactor(Device, p.Infos, minDimToFactor: 2);
        optimizer.Step(p.Parameters, 1, 1.0);
        var state = optimizer.DownloadState();
        double[] vr = [(1 + 4) / 2.0, (9 + 16) / 2.0], vc = [(1 + 9) / 2.0, (4 + 16) / 2.0];
        Assert.Equal((float)vr[1], state["vr/w"][1], 5);
        Assert.Equal((float)vc[0], state["vc/w"][0], 5);
        double mean = (vr[0] + vr[1]) / 2;
        double[] g = [1, 2, 3, 4];
        var u = new double[4];
        for (int r = 0; r < 2; r++) for (int c = 0; c < 2; c++) u[r * 2 + c] = g[r * 2 + c] / Math.Sqrt(vr[r] / mean * vc[c]);
        double rms = Math.Sqrt(u.Sum(x => x * x) / 4);
        for (int i = 0; i < 4; i++)
            Assert.Equal(1 - u[i] / Math.Max(1, rms), p.Value(0)[i], 5);
    }

    [Fact]
    public void Adafactor_factors_each_slice_of_an_expert_stack_on_its_own()
    {
        // [2, 2, 2] with minDimToFactor 2: slice s has its own row means vr[s] and column means vc[s] of g^2,
        // so slice 1's update depends on slice 1's gradient only (step 1: beta2 = 0, lr 1, no clipping at RMS 1).
        float[] g = [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f];
        using var p = Harness(new ParameterInfo("w", [2, 2, 2], 0, ParameterRole.ExpertGate, -1), [1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f], g);
        using var optimizer = new Adafactor(Device, p.Infos, minDimToFactor: 2);
        optimizer.Step(p.Parameters, 1, 1.0);
        var state = optimizer.DownloadState();
        var u = new double[8];
        for (int s = 0; s < 2; s++)
        {
            double[] vr = [(g[4 * s] * g[4 * s] + g[4 * s + 1] * g[4 * s + 1]) / 2.0, (g[4 * s + 2] * g[4 * s + 2] + g[4 * s + 3] * g[4 * s + 3]) / 2.0];
            double[] vc = [(g[4 * s] * g[4 * s] + g[4 * s + 2] * g[4 * s + 2]) / 2.0, (g[4 * s + 1] * g[4 * s + 1] + g[4 * s + 3] * g[4 * s + 3]) / 2.0];
            Assert.Equal((float)vr[1], state["vr/w"][2 * s + 1], 5);
            Assert.Equal((float)vc[0], state["vc/w"][2 * s], 5);
            double mean = (vr[0] + vr[1]) / 2;
            for (int r = 0; r < 2; r++) for (int c = 0; c < 2; c++) u[4 * s + 2 * r + c] = g[4 * s + 2 * r + c] / Math.Sqrt(vr[r] / mean * vc[c]);
        }
        double rms = Math.Sqrt(u.Sum(x => x * x) / 8);
        for (int i = 0; i < 8; i++)
            Assert.Equal(1 - u[i] / Math.Max(1, rms), p.Value(0)[i], 5);
    }

    [Fact]
    public void An_optimizer_refuses_tensors_it_was_not_made_for()
    {
        using var p = Harness(new ParameterInfo("w", [2], -1, ParameterRole.FinalNorm, -1), [1f, 1f], [1f, 1f]);
        using var optimizer = new AdamW(Device, [new ParameterInfo("other", [2], -1, ParameterRole.FinalNorm, -1)]);
        var error = Assert.Throws<ArgumentException>(() => optimizer.Step(p.Parameters, 1, 0.01));
        Assert.Contains("AdamW was made for 1 other tensors", error.Message);
    }

    [Fact]
    public void AdamW_first_step_moves_each_weight_by_lr_and_decays_matrices()
    {
        using var p = Harness(new ParameterInfo("w", [1, 2], 0, ParameterRole.Query, -1), [1f, -2f], [0.3f, -5f]);
        using var optimizer = new AdamW(Device, p.Infos, weightDecay: 0.1);
        optimizer.Step(p.Parameters, 1, 0.01);
        // Bias-corrected m/sqrt(v) = sign(g) at step 1 (up to epsilon).
        Assert.Equal(1 - 0.01 * (1 + 0.1 * 1), p.Value(0)[0], 6);
        Assert.Equal(-2 - 0.01 * (-1 + 0.1 * -2), p.Value(0)[1], 6);
    }

    [Fact]
    public void Global_norm_clipping_scales_all_tensors_together()
    {
        using var p = new OptimizerHarness(Device, [new ParameterInfo("a", [1], -1, ParameterRole.FinalNorm, -1), new ParameterInfo("b", [1], -1, ParameterRole.FinalNorm, -1)],
            [[0f], [0f]], [[3f], [4f]]);
        using var clipping = new GradientClipping(Device, p.Parameters);
        Assert.Equal(5, clipping.Clip(p.Parameters, 1.0), 6);
        Assert.Equal(0.6f, p.Gradient(0)[0], 6);
        Assert.Equal(0.8f, p.Gradient(1)[0], 6);
        Assert.Equal(1, clipping.Clip(p.Parameters, 2.0), 6);
        Assert.Equal(0.6f, p.Gradient(0)[0], 6);
    }
}

/// <summary>On ILGPU's CPU accelerator (always).</summary>
public sealed class CpuOptimizerTests(CpuDeviceFixture fixture) : OptimizerTests<CpuDeviceFixture>(fixture);

#if OPENMOE_CUDA_TESTS
/// <summary>On the first CUDA GPU (OPENMOE_CUDA_TESTS=1 builds).</summary>
public sealed class CudaOptimizerTests(CudaDeviceFixture fixture) : OptimizerTests<CudaDeviceFixture>(fixture);
#endif

/// <summary>Learning-rate schedules against their formulas.</summary>
public class ScheduleTests
{
    [Fact]
    public void Schedules_follow_their_formulas()
    {
        var rsqrt = new InverseSqrtSchedule(1.0, 10_000);
        Assert.Equal(0.01, rsqrt.At(1), 12);
        Assert.Equal(0.01, rsqrt.At(10_000), 12);
        Assert.Equal(1 / Math.Sqrt(40_000), rsqrt.At(40_000), 12);
        var cosine = new CosineSchedule(1e-3, 10, 110);
        Assert.Equal(1e-4, cosine.At(1), 12);
        Assert.Equal(1e-3, cosine.At(10), 12);
        Assert.Equal(0.5e-3, cosine.At(60), 12);
        Assert.Equal(0, cosine.At(110), 12);
        var options = new TrainerOptions { Spec = "OpenMoE-Tiny", Data = "d", Out = "o", LearningRate = 0.01, Warmup = 10_000 };
        Assert.Equal(0.01, options.CreateSchedule().At(5), 12);
        Assert.Equal(0.005, options.CreateSchedule().At(40_000), 12);
    }
}
