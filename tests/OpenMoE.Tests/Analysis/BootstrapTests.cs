using OpenMoE.Analysis;

namespace OpenMoE.Tests.Analysis;

public class BootstrapTests
{
    private static double Mean(IReadOnlyList<double> rows) => rows.Average();

    [Fact]
    public void Two_rows_give_the_full_range_of_their_resampled_means()
    {
        // Resamples of {0, 1} have means 0 (p = 1/4), 1/2 (1/2), 1 (1/4): the 2.5th and 97.5th percentiles are 0 and 1.
        var interval = Bootstrap.Estimate<double>([0.0, 1.0], Mean, replicates: 2000, seed: 3);
        Assert.Equal(new Interval(0.5, 0, 1), interval);
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
