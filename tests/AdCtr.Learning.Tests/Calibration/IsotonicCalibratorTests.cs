using AdCtr.Learning.Calibration;

namespace AdCtr.Learning.Tests.Calibration;

public class IsotonicCalibratorTests
{
    [Fact]
    public void Fit_OneViolation_PoolsMiddlePairAndInterpolates()
    {
        // Points (0.1, 0), (0.2, 1), (0.3, 0), (0.4, 1), given out of order: PAV pools (0.2, 0.3) into mean
        // 0.5 at centre 0.25, giving blocks (0.1, 0), (0.25, 0.5), (0.4, 1).
        double[] p = [0.3, 0.1, 0.4, 0.2];
        int[] y = [0, 0, 1, 1];

        var cal = IsotonicCalibrator.Fit(p, y);

        Assert.Equal([0.1, 0.25, 0.4], cal.Centres.ToArray());
        Assert.Equal([0.0, 0.5, 1.0], cal.Values.ToArray());
        Assert.Equal(0.0, cal.Calibrate(0.05));
        Assert.Equal(0.0, cal.Calibrate(0.1));
        Assert.Equal(1.0 / 3, cal.Calibrate(0.2), 12);    // 0.5 * (0.2 - 0.1) / 0.15
        Assert.Equal(0.5, cal.Calibrate(0.25), 12);
        Assert.Equal(0.75, cal.Calibrate(0.325), 12);     // 0.5 + 0.5 * 0.075 / 0.15
        Assert.Equal(1.0, cal.Calibrate(0.4));
        Assert.Equal(1.0, cal.Calibrate(0.9));
    }

    [Fact]
    public void Fit_WeightedCascade_PoolsEverything()
    {
        // Means 1 (w 1), 0 (w 1), 0 (w 2): the first pool gives 0.5 (w 2), which still exceeds 0, so all
        // pool into 1 / 4 at centre (0.1 + 0.2 + 2 * 0.3) / 4.
        var cal = IsotonicCalibrator.Fit([0.1, 0.2, 0.3], [1, 0, 0], [1, 1, 2]);

        Assert.Equal([0.225], cal.Centres.ToArray());
        Assert.Equal([0.25], cal.Values.ToArray());
        Assert.Equal(0.25, cal.Calibrate(0.0));
        Assert.Equal(0.25, cal.Calibrate(1.0));
    }

    [Fact]
    public void Fit_TiedPredictions_GetOneValue()
    {
        var cal = IsotonicCalibrator.Fit([0.5, 0.5, 0.5, 0.7], [0, 1, 1, 1]);

        Assert.Equal([0.5, 0.7], cal.Centres.ToArray());
        Assert.Equal(2.0 / 3, cal.Values[0], 12);
        Assert.Equal(1.0, cal.Values[1]);
    }

    [Fact]
    public void Fit_ZeroWeightExamples_AreIgnored()
    {
        var cal = IsotonicCalibrator.Fit([0.1, 0.2, 0.3], [1, 0, 1], [0, 1, 1]);

        Assert.Equal([0.2, 0.3], cal.Centres.ToArray());
        Assert.Equal([0.0, 1.0], cal.Values.ToArray());
    }

    [Fact]
    public void Fit_RandomData_MatchesMinMaxFormulaAndIsMonotone()
    {
        var rng = new Random(1955);
        for (var trial = 0; trial < 20; trial++)
        {
            var n = rng.Next(1, 400);
            var p = new double[n];
            var y = new int[n];
            var w = new double[n];
            for (var i = 0; i < n; i++)
            {
                // Two decimals: at most 101 distinct predictions, many ties.
                p[i] = Math.Round(rng.NextDouble(), 2);
                y[i] = rng.NextDouble() < p[i] ? 1 : 0;
                w[i] = 0.1 + rng.NextDouble();
            }

            var cal = IsotonicCalibrator.Fit(p, y, w);
            var (centres, values) = BruteForceIsotonic(p, y, w);

            // Both compute the same weighted means in a different order: agreement to 1e-9.
            Assert.Equal(centres.Length, cal.Centres.Length);
            for (var b = 0; b < centres.Length; b++)
            {
                Assert.Equal(centres[b], cal.Centres[b], 1e-9);
                Assert.Equal(values[b], cal.Values[b], 1e-9);
            }

            var previous = double.NegativeInfinity;
            for (var g = 0; g <= 1000; g++)
            {
                var c = cal.Calibrate(g / 1000.0);
                Assert.True(c >= previous, "calibrated values must be non-decreasing");
                Assert.InRange(c, 0, 1);
                previous = c;
            }
        }
    }

    // Isotonic regression by the min-max formula (Barlow et al. 1972): on the distinct sorted points,
    // f_i = max over j <= i of min over k >= i of the weighted mean of labels j..k. Consecutive points with
    // the same f form one block; its centre is the weighted mean prediction. O(m^3), independent of PAV.
    private static (double[] Centres, double[] Values) BruteForceIsotonic(double[] p, int[] y, double[] w)
    {
        var xs = new SortedDictionary<double, (double W, double Wy)>();
        for (var i = 0; i < p.Length; i++)
        {
            xs.TryGetValue(p[i], out var acc);
            xs[p[i]] = (acc.W + w[i], acc.Wy + w[i] * y[i]);
        }

        var x = xs.Keys.ToArray();
        var pts = xs.Values.ToArray();
        var m = x.Length;
        var f = new double[m];
        for (var i = 0; i < m; i++)
        {
            var best = double.NegativeInfinity;
            for (var j = 0; j <= i; j++)
            {
                var worst = double.PositiveInfinity;
                for (var k = i; k < m; k++)
                {
                    double sw = 0, swy = 0;
                    for (var t = j; t <= k; t++)
                    {
                        sw += pts[t].W;
                        swy += pts[t].Wy;
                    }

                    worst = Math.Min(worst, swy / sw);
                }

                best = Math.Max(best, worst);
            }

            f[i] = best;
        }

        var centres = new List<double>();
        var values = new List<double>();
        var start = 0;
        for (var i = 1; i <= m; i++)
        {
            if (i == m || Math.Abs(f[i] - f[start]) > 1e-12)
            {
                double sw = 0, swx = 0;
                for (var t = start; t < i; t++)
                {
                    sw += pts[t].W;
                    swx += pts[t].W * x[t];
                }

                centres.Add(swx / sw);
                values.Add(f[start]);
                start = i;
            }
        }

        return ([.. centres], [.. values]);
    }

    [Fact]
    public void Fit_NoPositiveWeight_Throws()
    {
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([0.1, 0.2], [0, 1], [0, 0]));
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([], []));
    }

    [Fact]
    public void Fit_MismatchedLengths_Throws()
    {
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([0.1, 0.2], [0]));
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([0.1], [0], [1, 1]));
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([1.5], [0]));
    }

    [Fact]
    public void FromPoints_DecreasingValues_Throws()
    {
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.FromPoints([0.1, 0.2], [0.5, 0.4]));
        Assert.Throws<ArgumentException>(() => IsotonicCalibrator.FromPoints([0.2, 0.1], [0.1, 0.4]));
    }

    [Fact]
    public void FromPoints_FittedPoints_RoundTrips()
    {
        var cal = IsotonicCalibrator.Fit([0.3, 0.1, 0.4, 0.2], [0, 0, 1, 1]);
        var copy = IsotonicCalibrator.FromPoints(cal.Centres, cal.Values);

        Assert.Equal(cal.Calibrate(0.2), copy.Calibrate(0.2));
        Assert.Equal(cal.Centres.ToArray(), copy.Centres.ToArray());
    }
}
