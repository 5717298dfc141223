using AdCtr.Learning.Evaluation;

namespace AdCtr.Learning.Tests.Evaluation;

public class MetricsAccumulatorTests
{
    // Exact arithmetic on a handful of doubles: the only error is rounding, far below 1e-12.
    private const int Digits = 12;

    private static MetricsAccumulator FourExamples(double w0 = 1, double w1 = 1, double w2 = 1, double w3 = 1)
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.9, 1, w0);
        acc.Add(0.2, 0, w1);
        acc.Add(0.6, 1, w2);
        acc.Add(0.6, 0, w3);
        return acc;
    }

    [Fact]
    public void Compute_FourExamplesWithTie_MatchesHandComputedValues()
    {
        var m = FourExamples().Compute();

        var expectedLogLoss = -(Math.Log(0.9) + Math.Log(0.8) + Math.Log(0.6) + Math.Log(0.4)) / 4;
        Assert.Equal(4, m.Examples);
        Assert.Equal(4.0, m.WeightSum);
        Assert.Equal(2.0, m.Clicks);
        Assert.Equal(0.5, m.Ctr);
        Assert.Equal(expectedLogLoss, m.LogLoss, Digits);
        // H(0.5) = ln 2.
        Assert.Equal(expectedLogLoss / Math.Log(2), m.NormalizedEntropy, Digits);
        // Pairs (pos, neg): (0.9,0.2)=1, (0.9,0.6)=1, (0.6,0.2)=1, (0.6,0.6)=1/2 -> 3.5 / 4.
        Assert.Equal(0.875, m.Auc, Digits);
        // (0.9 + 0.2 + 0.6 + 0.6) / 2 clicks.
        Assert.Equal(1.15, m.CalibrationRatio, Digits);
        Assert.Equal(0.575, m.MeanPrediction, Digits);
    }

    [Fact]
    public void Compute_WeightedExamples_MatchesHandComputedValues()
    {
        // Weights 1, 1, 2, 3: positives 0.9 (1), 0.6 (2); negatives 0.2 (1), 0.6 (3).
        var m = FourExamples(1, 1, 2, 3).Compute();

        var expectedLogLoss = -(Math.Log(0.9) + Math.Log(0.8) + 2 * Math.Log(0.6) + 3 * Math.Log(0.4)) / 7;
        var ctr = 3.0 / 7;
        var entropy = -(ctr * Math.Log(ctr) + (1 - ctr) * Math.Log(1 - ctr));
        Assert.Equal(7.0, m.WeightSum);
        Assert.Equal(3.0, m.Clicks);
        Assert.Equal(ctr, m.Ctr, Digits);
        Assert.Equal(expectedLogLoss, m.LogLoss, Digits);
        Assert.Equal(expectedLogLoss / entropy, m.NormalizedEntropy, Digits);
        // Weighted pairs: 1*1 + 1*3 + 2*1 + 0.5*2*3 = 9 over 3 * 4 = 12.
        Assert.Equal(0.75, m.Auc, Digits);
        // (0.9 + 0.2 + 1.2 + 1.8) / 3.
        Assert.Equal(4.1 / 3, m.CalibrationRatio, Digits);
        Assert.Equal(4.1 / 7, m.MeanPrediction, Digits);
    }

    [Fact]
    public void Compute_IntegerWeight_EqualsRepeatedExamples()
    {
        var weighted = FourExamples(2, 1, 3, 1).Compute();
        var repeated = new MetricsAccumulator();
        repeated.Add(0.9, 1);
        repeated.Add(0.9, 1);
        repeated.Add(0.2, 0);
        repeated.Add(0.6, 1);
        repeated.Add(0.6, 1);
        repeated.Add(0.6, 1);
        repeated.Add(0.6, 0);
        var r = repeated.Compute();

        Assert.Equal(r.WeightSum, weighted.WeightSum);
        Assert.Equal(r.LogLoss, weighted.LogLoss, Digits);
        Assert.Equal(r.Auc, weighted.Auc, Digits);
        Assert.Equal(r.CalibrationRatio, weighted.CalibrationRatio, Digits);
        Assert.Equal(r.NormalizedEntropy, weighted.NormalizedEntropy, Digits);
    }

    [Fact]
    public void Compute_PredictionZeroForAClick_ClipsTo1e15()
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.0, 1);
        acc.Add(1.0, 0);

        // Both losses are -ln(1e-15) = 15 ln 10.
        Assert.Equal(15 * Math.Log(10), acc.Compute().LogLoss, 9);
    }

    [Fact]
    public void Compute_NoClicks_AucNeAndCalibrationAreNaN()
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.1, 0);
        acc.Add(0.3, 0);
        var m = acc.Compute();

        Assert.Equal(0.0, m.Ctr);
        Assert.True(double.IsNaN(m.Auc));
        Assert.True(double.IsNaN(m.NormalizedEntropy));
        Assert.True(double.IsNaN(m.CalibrationRatio));
        Assert.Equal(-(Math.Log(0.9) + Math.Log(0.7)) / 2, m.LogLoss, Digits);
    }

    [Fact]
    public void Compute_OnlyClicks_AucAndNeAreNaNCalibrationDefined()
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.5, 1);
        acc.Add(0.25, 1);
        var m = acc.Compute();

        Assert.True(double.IsNaN(m.Auc));
        Assert.True(double.IsNaN(m.NormalizedEntropy));
        Assert.Equal(0.375, m.CalibrationRatio, Digits);
    }

    [Fact]
    public void Compute_Empty_CountsZeroRatiosNaN()
    {
        var m = new MetricsAccumulator().Compute();

        Assert.Equal(0, m.Examples);
        Assert.Equal(0.0, m.WeightSum);
        Assert.True(double.IsNaN(m.LogLoss));
        Assert.True(double.IsNaN(m.Auc));
        Assert.True(double.IsNaN(m.Ctr));
    }

    [Fact]
    public void Compute_AllTied_AucIsOneHalf()
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.3, 1, 2);
        acc.Add(0.3, 0, 5);

        Assert.Equal(0.5, acc.Compute().Auc, Digits);
    }

    [Fact]
    public void Compute_RandomWeightedDataWithTies_AucEqualsBruteForcePairCount()
    {
        var rng = new Random(20140824);
        for (var trial = 0; trial < 50; trial++)
        {
            var n = rng.Next(2, 200);
            var p = new double[n];
            var y = new int[n];
            var w = new double[n];
            var acc = new MetricsAccumulator();
            for (var i = 0; i < n; i++)
            {
                // Scores on a grid of 20 values force many ties; some weights are exactly zero.
                p[i] = rng.Next(0, 21) / 20.0;
                y[i] = rng.Next(2);
                w[i] = rng.Next(4) == 0 ? 0 : rng.NextDouble() * 3;
                acc.Add(p[i], y[i], w[i]);
            }

            double pairs = 0, pos = 0, neg = 0;
            for (var i = 0; i < n; i++)
            {
                if (y[i] == 1) { pos += w[i]; } else { neg += w[i]; }
                for (var j = 0; j < n; j++)
                {
                    if (y[i] == 1 && y[j] == 0)
                    {
                        pairs += w[i] * w[j] * (p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0);
                    }
                }
            }

            var auc = acc.Compute().Auc;
            if (pos > 0 && neg > 0)
            {
                // Same sum of the same products in a different order: relative rounding ~ n * 1e-16.
                Assert.Equal(pairs / (pos * neg), auc, 10);
            }
            else
            {
                Assert.True(double.IsNaN(auc));
            }
        }
    }

    [Fact]
    public void Compute_AfterMoreAdds_ResortsAndUsesAllExamples()
    {
        var acc = new MetricsAccumulator();
        acc.Add(0.9, 1);
        acc.Add(0.1, 0);
        Assert.Equal(1.0, acc.Compute().Auc);

        // A negative scored above the positive: pairs (0.9,0.1)=1, (0.9,0.95)=0 -> 1/2.
        acc.Add(0.95, 0);
        Assert.Equal(0.5, acc.Compute().Auc, Digits);
    }

    [Fact]
    public void Merge_TwoHalves_EqualsOneAccumulator()
    {
        var whole = FourExamples(1, 1, 2, 3);
        var a = new MetricsAccumulator();
        a.Add(0.9, 1, 1);
        a.Add(0.2, 0, 1);
        var b = new MetricsAccumulator();
        b.Add(0.6, 1, 2);
        b.Add(0.6, 0, 3);

        a.Merge(b);
        var expected = whole.Compute();
        var merged = a.Compute();

        Assert.Equal(expected.Examples, merged.Examples);
        Assert.Equal(expected.WeightSum, merged.WeightSum);
        Assert.Equal(expected.LogLoss, merged.LogLoss, Digits);
        Assert.Equal(expected.Auc, merged.Auc, Digits);
        Assert.Equal(2, b.Count);
    }

    [Fact]
    public void Reset_AfterAdds_BehavesAsNew()
    {
        var acc = FourExamples();
        acc.Reset();
        acc.Add(0.25, 1);

        var m = acc.Compute();
        Assert.Equal(1, m.Examples);
        Assert.Equal(0.25, m.CalibrationRatio, Digits);
    }

    [Theory]
    [InlineData(-0.1, 0, 1)]
    [InlineData(1.1, 0, 1)]
    [InlineData(double.NaN, 0, 1)]
    [InlineData(0.5, 2, 1)]
    [InlineData(0.5, -1, 1)]
    [InlineData(0.5, 1, -1)]
    [InlineData(0.5, 1, double.NaN)]
    [InlineData(0.5, 1, double.PositiveInfinity)]
    public void Add_InvalidArgument_Throws(double p, int label, double weight)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MetricsAccumulator().Add(p, label, weight));
    }

    [Fact]
    public void ReliabilityTable_EqualWidthTwoBins_MatchesHandComputedBins()
    {
        var table = FourExamples().ReliabilityTable(2);

        Assert.Equal(2, table.Length);
        Assert.Equal(new ReliabilityBin(0, 0.5, 1, 1, 0.2, 0), table[0]);
        Assert.Equal(0.5, table[1].Lower);
        Assert.Equal(1.0, table[1].Upper);
        Assert.Equal(3, table[1].Count);
        Assert.Equal(0.7, table[1].MeanPredicted, Digits);
        Assert.Equal(2.0 / 3, table[1].ObservedRate, Digits);
    }

    [Fact]
    public void ExpectedCalibrationError_EqualWidthTwoBins_MatchesHandComputedValue()
    {
        // 1/4 * |0.2 - 0| + 3/4 * |0.7 - 2/3| = 0.05 + 0.025.
        Assert.Equal(0.075, FourExamples().ExpectedCalibrationError(2), Digits);
    }

    [Fact]
    public void ReliabilityTable_EqualWidthPredictionOne_FallsInLastBin()
    {
        var acc = new MetricsAccumulator();
        acc.Add(1.0, 1);
        var table = acc.ReliabilityTable(4);

        Assert.Equal(1, table[3].Count);
        Assert.True(double.IsNaN(table[0].MeanPredicted));
    }

    [Fact]
    public void ReliabilityTable_EqualMassTwoBins_KeepsTiesTogether()
    {
        // Sorted 0.2, 0.6, 0.6, 0.9; the 0.6 tie starts at mass 1/4 < 1/2 so it stays in bin 0 with 0.2.
        var table = FourExamples().ReliabilityTable(2, ReliabilityBinning.EqualMass);

        Assert.Equal(2, table.Length);
        Assert.Equal(3, table[0].Count);
        Assert.Equal(0.2, table[0].Lower);
        Assert.Equal(0.6, table[0].Upper);
        Assert.Equal(1.4 / 3, table[0].MeanPredicted, Digits);
        Assert.Equal(1.0 / 3, table[0].ObservedRate, Digits);
        Assert.Equal(new ReliabilityBin(0.9, 0.9, 1, 1, 0.9, 1), table[1]);
    }

    [Fact]
    public void ReliabilityTable_EqualMassSmallCtrs_SplitsMassEvenly()
    {
        var acc = new MetricsAccumulator();
        for (var i = 0; i < 1000; i++)
        {
            // Distinct predictions in [0, 0.01): equal-width bins of 0.1 would put them all in one bin.
            acc.Add(i / 100_000.0, i % 50 == 0 ? 1 : 0);
        }

        var table = acc.ReliabilityTable(10, ReliabilityBinning.EqualMass);
        Assert.Equal(10, table.Length);
        foreach (var bin in table)
        {
            Assert.Equal(100, bin.Count);
        }

        Assert.Single(acc.ReliabilityTable(10), b => b.Count > 0);
    }
}

public class MetricsAccumulatorAllocationTests
{
    [Fact]
    public void Add_AfterResetWithinCapacity_AllocatesNothing()
    {
        // The buffer grows once, then Reset keeps it: a second pass of adds allocates 0 bytes.
        var acc = new MetricsAccumulator();
        for (var i = 0; i < 10_000; i++)
        {
            acc.Add(i / 10_000.0, i & 1);
        }

        acc.Reset();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            acc.Add(i / 10_000.0, i & 1, 0.5);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_000, acc.Count);
    }
}
