using OpenMoE.Model.Specs;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>
/// The SIMD loops of the host optimizer equal their scalar formulas bit for bit (lengths that leave
/// a scalar tail after the vector part, and a tensor shorter than one vector).
/// </summary>
public class HostVectorTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(67)]
    public void SubtractScaled_equals_the_scalar_loop_bit_for_bit(int length)
    {
        var random = new Random(length);
        var w = Values(random, length, 1f);
        var x = Values(random, length, 1e-2f);
        var expected = (float[])w.Clone();
        const double scale = 0.0123456789;
        for (int j = 0; j < length; j++)
            expected[j] -= (float)(scale * x[j]);

        HostVectors.SubtractScaled(w, x, scale);
        Assert.Equal(Bits(expected), Bits(w));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(67)]
    public void AdamW_equals_its_scalar_formula_bit_for_bit(int length)
    {
        const double beta1 = 0.9, beta2 = 0.95, epsilon = 1e-8, decay = 0.01, lr = 3e-3;
        var random = new Random(length);
        var values = Values(random, length, 1f);
        var parameters = HostParameters.Of([new ParameterInfo("w", [1, length], 0, ParameterRole.Query, -1)], [(float[])values.Clone()]);
        var optimizer = new AdamW(parameters, beta1, beta2, epsilon, decay);
        var (m, v) = (new float[length], new float[length]);
        for (int step = 1; step <= 3; step++)
        {
            var gradient = Values(random, length, 0.1f);
            gradient.CopyTo(parameters.Gradients[0], 0);
            optimizer.Step(parameters, step, lr);
            double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);
            for (int j = 0; j < length; j++)
            {
                double g = gradient[j];
                double mj = beta1 * m[j] + (1 - beta1) * g, vj = beta2 * v[j] + (1 - beta2) * g * g;
                (m[j], v[j]) = ((float)mj, (float)vj);
                values[j] = (float)(values[j] - lr * (mj / c1 / (Math.Sqrt(vj / c2) + epsilon) + decay * values[j]));
            }
        }
        Assert.Equal(Bits(values), Bits(parameters.Values[0]));
        Assert.Equal(Bits(m), Bits(optimizer.State["m/w"]));
        Assert.Equal(Bits(v), Bits(optimizer.State["v/w"]));
    }

    private static float[] Values(Random random, int length, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
