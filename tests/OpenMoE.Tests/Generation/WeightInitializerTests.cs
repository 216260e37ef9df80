using OpenMoE.Model.Initialization;
using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Generation;

public class WeightInitializerTests
{
    private static readonly ModelSpecInfo Tiny = ModelSpecs.Find("OpenMoE-Tiny");

    private static ParameterInfo Param(ParameterRole role, int layer) => Tiny.Parameters.First(p => p.Role == role && p.Layer == layer);

    [Fact]
    public void Norm_weights_start_at_one_and_values_depend_only_on_seed_and_name()
    {
        Assert.All(WeightInitializer.Create(Tiny.Config, Param(ParameterRole.AttentionNorm, 0), 1), v => Assert.Equal(1f, v));
        var up = Param(ParameterRole.DenseUp, 0);
        Assert.Equal(WeightInitializer.Create(Tiny.Config, up, 7), WeightInitializer.Create(Tiny.Config, up, 7));
        Assert.NotEqual(WeightInitializer.Create(Tiny.Config, up, 7), WeightInitializer.Create(Tiny.Config, up, 8));
        Assert.NotEqual(WeightInitializer.Create(Tiny.Config, up, 7), WeightInitializer.Create(Tiny.Config, Param(ParameterRole.DenseUp, 2), 7));
    }

    [Theory]
    [InlineData(ParameterRole.Embedding, -1, 1.0)]
    [InlineData(ParameterRole.Router, 1, 0.02)]
    [InlineData(ParameterRole.DenseUp, 0, 0.039528470752104741)]   // sqrt(0.1 / D), D = 64
    [InlineData(ParameterRole.DenseDown, 0, 0.027950849718747371)] // sqrt(0.1 / F), F = 128
    [InlineData(ParameterRole.ExpertDown, 1, 0.027950849718747371)] // stacked wo [E, F, D]: fan-in F
    [InlineData(ParameterRole.Query, 0, 0.0098821176880261852)]    // sqrt(0.1 / D) / sqrt(hd), hd = 16
    public void Each_role_gets_openmoe_initial_scale(ParameterRole role, int layer, double expectedStd)
    {
        var values = WeightInitializer.Create(Tiny.Config, Param(role, layer), 3);
        double mean = values.Average(v => (double)v);
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(std, expectedStd * 0.9, expectedStd * 1.1);
        Assert.InRange(mean, -4 * expectedStd / Math.Sqrt(values.Length), 4 * expectedStd / Math.Sqrt(values.Length));
    }

    [Fact]
    public void Dense_kernels_are_truncated_at_two_standard_deviations()
    {
        var values = WeightInitializer.Create(Tiny.Config, Param(ParameterRole.DenseUp, 0), 5);
        double limit = 2 * Math.Sqrt(0.1 / 64) / 0.87962566103423978;
        Assert.All(values, v => Assert.InRange(Math.Abs(v), 0, limit + 1e-6));
    }
}
