using AdCtr.Learning.Calibration;

namespace AdCtr.Learning.Tests.Calibration;

public class DownsamplingTests
{
    [Theory]
    [InlineData(0.0, 0.1)]
    [InlineData(0.001, 0.1)]
    [InlineData(0.02, 0.05)]
    [InlineData(0.5, 0.5)]
    [InlineData(0.97, 0.01)]
    [InlineData(1.0, 0.3)]
    public void Correct_OfSampledRate_ReturnsOriginal(double q, double w)
    {
        Assert.Equal(q, Downsampling.Correct(Downsampling.SampledRate(q, w), w), 12);
    }

    [Fact]
    public void Correct_RateOne_IsIdentity()
    {
        Assert.Equal(0.123, Downsampling.Correct(0.123, 1.0), 15);
    }

    [Fact]
    public void Correct_SimulatedNegativeDownsampling_RecoversTrueRate()
    {
        const double q = 0.02, w = 0.1;
        const int n = 1_000_000;
        var rng = new Random(2014);
        long kept = 0, keptClicks = 0;
        for (var i = 0; i < n; i++)
        {
            var click = rng.NextDouble() < q;
            if (click)
            {
                kept++;
                keptClicks++;
            }
            else if (rng.NextDouble() < w)
            {
                kept++;
            }
        }

        var sampledRate = (double)keptClicks / kept;
        var corrected = Downsampling.Correct(sampledRate, w);

        // Delta method: the sampled rate p = q / (q + (1 - q) w) ~ 0.169 has standard error
        // sqrt(p (1 - p) / kept) ~ 1.1e-3; dCorrect/dp = w / (p w + 1 - p)^2 ~ 0.139, so the corrected
        // rate has standard error ~ 1.5e-4. Four of them bound the error.
        var p = Downsampling.SampledRate(q, w);
        var se = Math.Sqrt(p * (1 - p) / kept) * w / Math.Pow(p * w + 1 - p, 2);
        Assert.InRange(corrected, q - 4 * se, q + 4 * se);
        // Without the correction the rate is off by a factor of ~8.
        Assert.True(sampledRate > 5 * q);
    }

    [Theory]
    [InlineData(-0.1, 0.5)]
    [InlineData(1.1, 0.5)]
    [InlineData(double.NaN, 0.5)]
    [InlineData(0.5, 0.0)]
    [InlineData(0.5, -1.0)]
    [InlineData(0.5, 1.5)]
    [InlineData(0.5, double.NaN)]
    public void Correct_InvalidArguments_Throw(double p, double w)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Downsampling.Correct(p, w));
    }
}
