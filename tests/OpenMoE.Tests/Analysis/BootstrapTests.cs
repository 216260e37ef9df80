using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class BootstrapTests
{
    private static double Mean(IReadOnlyList<double> rows) => rows.Average();

    [Fact]
    public void The_interval_is_the_value_plus_minus_1_96_bootstrap_standard_errors()
    {
        // Resamples of the 4 rows {0, 0, 1, 1} have means with variance sigma^2 / n = (1/4) / 4 = 1/16, so SE = 1/4
        // and the interval is 0.5 -+ 1.96 / 4; 4000 resamples estimate SE to about 1%.
        var interval = Bootstrap.Estimate<double>([0.0, 0.0, 1.0, 1.0], Mean, replicates: 4000, seed: 3);
        Assert.Equal(0.5, interval.Value, 12);
        Assert.Equal(0.5 - Bootstrap.Z95 / 4, interval.Low, 0.02);
        Assert.Equal(0.5 + Bootstrap.Z95 / 4, interval.High, 0.02);
        Assert.Equal(interval.Value - interval.Low, interval.High - interval.Value, 12);
    }

    [Fact]
    public void Constant_rows_and_zero_replicates_give_an_exact_interval()
    {
        Assert.Equal(Interval.Exact(3), Bootstrap.Estimate<double>([3.0, 3.0, 3.0], Mean, 200, 1));
        Assert.Equal(Interval.Exact(0.5), Bootstrap.Estimate<double>([0.0, 1.0], Mean, 0, 1));
    }

    [Fact]
    public void Groups_are_resampled_separately()
    {
        // Mixing the groups would let a resample of the difference leave 1; drawing each from itself cannot.
        var interval = Bootstrap.Estimate<double>([[1.0, 1.0, 1.0], [0.0, 0.0]], g => g[0].Average() - g[1].Average(), 500, 2);
        Assert.Equal(Interval.Exact(1), interval);
    }

    [Fact]
    public void Percentiles_interpolate_linearly_and_intervals_compare_by_their_bounds()
    {
        double[] sorted = [1, 2, 3, 4, 5];
        Assert.Equal(2.0, Bootstrap.Percentile(sorted, 0.25), 12);   // position 1
        Assert.Equal(1.4, Bootstrap.Percentile(sorted, 0.1), 12);    // position 0.4
        Assert.True(new Interval(1, 0.9, 1.1).Above(new Interval(0.5, 0.4, 0.8)));
        Assert.False(new Interval(1, 0.7, 1.1).Above(new Interval(0.5, 0.4, 0.8)));
        Assert.False(new Interval(0.5, 0.4, 0.8).Above(new Interval(1, 0.9, 1.1)));
    }
}
