using AdCtr.Learning.Evaluation;

namespace AdCtr.Learning.Tests.Evaluation;

/// <summary>
/// The radix-sorted AUC of <see cref="MetricsAccumulator"/> against the method it replaced (a comparer sort of
/// (score, weight, label) triples, then the same tie-grouped Mann-Whitney sum), kept here as the reference.
/// </summary>
public class ExactAucTests
{
    /// <summary>The previous implementation: introsort with a score comparer, then the grouped pair count.</summary>
    private static double ReferenceAuc(double[] p, int[] y, double[] w)
    {
        var entries = new (double Score, double Weight, int Label)[p.Length];
        double positives = 0, total = 0;
        for (var i = 0; i < p.Length; i++)
        {
            entries[i] = (p[i], w[i], y[i]);
            positives += w[i] * y[i];
            total += w[i];
        }

        var negatives = total - positives;
        if (!(positives > 0) || !(negatives > 0))
        {
            return double.NaN;
        }

        entries.AsSpan().Sort((a, b) => a.Score.CompareTo(b.Score));
        double negativesBelow = 0, pairs = 0;
        var k = 0;
        while (k < entries.Length)
        {
            var score = entries[k].Score;
            double groupPositive = 0, groupNegative = 0;
            while (k < entries.Length && entries[k].Score == score)
            {
                if (entries[k].Label != 0)
                {
                    groupPositive += entries[k].Weight;
                }
                else
                {
                    groupNegative += entries[k].Weight;
                }

                k++;
            }

            pairs += groupPositive * (negativesBelow + 0.5 * groupNegative);
            negativesBelow += groupNegative;
        }

        return pairs / (positives * negativesBelow);
    }

    private static (double[] P, int[] Y, double[] W) RandomData(Random rng, int n, Func<Random, double> score, Func<Random, double> weight)
    {
        var p = new double[n];
        var y = new int[n];
        var w = new double[n];
        for (var i = 0; i < n; i++)
        {
            p[i] = score(rng);
            y[i] = rng.Next(4) == 0 ? 1 : 0;
            w[i] = weight(rng);
        }

        return (p, y, w);
    }

    private static double Auc(double[] p, int[] y, double[] w)
    {
        var acc = new MetricsAccumulator();
        for (var i = 0; i < p.Length; i++)
        {
            acc.Add(p[i], y[i], w[i]);
        }

        return acc.Compute().Auc;
    }

    // Scores on a grid of 17 values (0 and 1 included, and -0, which equals 0): many ties in every group.
    private static double GridScore(Random rng)
    {
        var k = rng.Next(0, 18);
        return k == 17 ? -0.0 : k / 16.0;
    }

    // Weights that are small multiples of 1/8 (0 included): every partial sum is exact in any order, so the
    // order within a tie group (the comparer sort's arbitrary one, or the radix sort's input order) cannot
    // change a single bit.
    private static double DyadicWeight(Random rng) => rng.Next(0, 25) / 8.0;

    [Fact]
    public void Compute_TiesAndDyadicWeights_AucBitIdenticalToComparerSort()
    {
        var rng = new Random(15);
        for (var trial = 0; trial < 200; trial++)
        {
            var (p, y, w) = RandomData(rng, rng.Next(1, 3000), GridScore, DyadicWeight);
            var expected = ReferenceAuc(p, y, w);
            var actual = Auc(p, y, w);
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(actual));
        }
    }

    [Fact]
    public void Compute_DistinctScoresArbitraryWeights_AucBitIdenticalToComparerSort()
    {
        // Scores as the learner produces them (any double in (0, 1)), arbitrary weights: with no ties each group
        // is one example, so the summation order is the sorted order in both methods.
        var rng = new Random(16);
        for (var trial = 0; trial < 50; trial++)
        {
            var (p, y, w) = RandomData(rng, rng.Next(2, 20000), r => r.NextDouble(), r => r.NextDouble() * 4);
            Assert.Equal(p.Length, p.Distinct().Count());
            var expected = ReferenceAuc(p, y, w);
            var actual = Auc(p, y, w);
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(actual));
        }
    }

    [Fact]
    public void Compute_TiesAndArbitraryWeights_AucEqualToComparerSortUpToRounding()
    {
        // Within a tie group the weights are summed in input order here and in the introsort's (arbitrary) order
        // before, so inexact sums may differ in the last bits: a group of g weights rounds at most g - 1 times,
        // relative error below 3000 * 2^-53 ~ 3.3e-13 for these sizes; 1e-12 bounds it.
        var rng = new Random(17);
        for (var trial = 0; trial < 100; trial++)
        {
            var (p, y, w) = RandomData(rng, rng.Next(1, 3000), GridScore, r => r.Next(5) == 0 ? 0 : r.NextDouble() * 3);
            var expected = ReferenceAuc(p, y, w);
            var actual = Auc(p, y, w);
            if (double.IsNaN(expected))
            {
                Assert.True(double.IsNaN(actual));
            }
            else
            {
                Assert.InRange(actual, expected - 1e-12, expected + 1e-12);
            }
        }
    }

    [Fact]
    public void Compute_MillionLearnerLikeScores_AucBitIdenticalToComparerSort()
    {
        // Large enough that every radix pass runs over many buckets; unit weights as in a log without weights.
        var rng = new Random(18);
        var (p, y, w) = RandomData(rng, 1_000_000, r => 1 / (1 + Math.Exp(-(r.NextDouble() * 10 - 6))), _ => 1.0);
        Assert.Equal(BitConverter.DoubleToInt64Bits(ReferenceAuc(p, y, w)), BitConverter.DoubleToInt64Bits(Auc(p, y, w)));
    }

    [Fact]
    public void Sort_RandomKeysOverTheWholeRange_MatchesStableComparisonSort()
    {
        var rng = new Random(19);
        foreach (var n in new[] { 0, 1, 2, 3, 100, 5000, 70000 })
        {
            var records = new ScoreRecord[n];
            for (var i = 0; i < n; i++)
            {
                // Full 64-bit keys, and a narrow range with duplicates: the payload is the input position.
                var key = i % 2 == 0 ? ((ulong)rng.NextInt64() << 1) | (uint)rng.Next(2) : (uint)rng.Next(0, 50);
                records[i] = new ScoreRecord(key, i);
            }

            var expected = records.Select((r, i) => (r, i)).OrderBy(t => t.r.Key).ThenBy(t => t.i).Select(t => t.r).ToArray();
            ScoreRadixSort.Sort(records, new ScoreRecord[n]);
            Assert.Equal(expected.Select(r => (r.Key, r.SignedWeight)), records.Select(r => (r.Key, r.SignedWeight)));
        }
    }

    [Fact]
    public void Sort_AllKeysEqual_KeepsInputOrder()
    {
        var records = Enumerable.Range(0, 1000).Select(i => new ScoreRecord(0x3FE0000000000000UL, i)).ToArray();
        ScoreRadixSort.Sort(records, new ScoreRecord[records.Length]);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (double)i), records.Select(r => r.SignedWeight));
    }

    [Fact]
    public void Suffix_FromAnyStart_MetricsBitIdenticalToFreshAccumulator()
    {
        var rng = new Random(20);
        var (p, y, w) = RandomData(rng, 5000, GridScore, r => r.NextDouble() * 2);
        var all = new MetricsAccumulator();
        for (var i = 0; i < p.Length; i++)
        {
            all.Add(p[i], y[i], w[i]);
        }

        // Computing first must not disturb the order of addition that Suffix relies on.
        _ = all.Compute();
        foreach (var start in new[] { 0, 1, 2500, 4999, 5000 })
        {
            var fresh = new MetricsAccumulator();
            for (var i = start; i < p.Length; i++)
            {
                fresh.Add(p[i], y[i], w[i]);
            }

            var suffix = all.Suffix(start);
            Assert.Equal(p.Length - start, suffix.Count);
            Assert.Equal(fresh.Compute(), suffix.Compute());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ComputeWithSuffix_AnyStart_BitIdenticalToComputeAndSuffixCompute(bool ties)
    {
        // Ties with arbitrary weights: the within-tie order of summation shows in the last bits, so the merge of the
        // three sorted runs must take tied scores in the order of addition, as the stable sort of all of them does.
        var rng = new Random(23);
        var (p, y, w) = ties ? RandomData(rng, 5001, GridScore, r => r.NextDouble() * 2) : RandomData(rng, 5001, r => r.NextDouble(), r => r.NextDouble() * 2);
        var all = new MetricsAccumulator();
        for (var i = 0; i < p.Length; i++)
        {
            all.Add(p[i], y[i], w[i]);
        }

        foreach (var start in new[] { 0, 1, 2499, 2500, 2501, 4000, 5000, 5001 })
        {
            var (whole, suffix) = all.ComputeWithSuffix(start);
            Assert.Equal(all.Compute(), whole);
            Assert.Equal(all.Suffix(start).Compute(), suffix);
            Assert.Equal(p.Length - start, suffix.Examples);
        }
    }

    [Fact]
    public void ComputeWithSuffix_EmptyOrOneClass_SameAsCompute()
    {
        var empty = new MetricsAccumulator();
        Assert.Equal((BinaryMetrics.Empty, BinaryMetrics.Empty), empty.ComputeWithSuffix(0));

        var negativesOnly = new MetricsAccumulator();
        var zeroWeight = new MetricsAccumulator();
        for (var i = 0; i < 10; i++)
        {
            negativesOnly.Add(i / 10.0, 0);
            zeroWeight.Add(i / 10.0, i % 2, 0);
        }

        foreach (var acc in new[] { negativesOnly, zeroWeight })
        {
            foreach (var start in new[] { 0, 5, 10 })
            {
                Assert.Equal((acc.Compute(), acc.Suffix(start).Compute()), acc.ComputeWithSuffix(start));
            }
        }
    }

    [Theory]
    [InlineData(0, 1UL)]              // nothing to move
    [InlineData(1000, 0UL)]           // one key: no pass runs
    [InlineData(1000, 0x7FFUL)]       // keys differ in the lowest digit only: one pass
    [InlineData(1000, 0x3FFFFFUL)]    // two passes
    [InlineData(5000, ulong.MaxValue)] // every pass
    public void Sort_OutOfPlace_LeavesInputAndReportsTheBufferHoldingTheResult(int n, ulong keyMask)
    {
        var rng = new Random(21);
        var input = new ScoreRecord[n];
        for (var i = 0; i < n; i++)
        {
            input[i] = new ScoreRecord(((ulong)rng.NextInt64() ^ ((ulong)rng.NextInt64() << 32)) & keyMask, i);
        }

        var original = input.ToArray();
        var expected = input.Select((r, i) => (r, i)).OrderBy(t => t.r.Key).ThenBy(t => t.i).Select(t => (t.r.Key, t.r.SignedWeight)).ToArray();
        var first = new ScoreRecord[n];
        var second = new ScoreRecord[n];
        var result = ScoreRadixSort.Sort(input, first, second);
        var sorted = result == ScoreRadixSort.Result.InFirst ? first : second;
        Assert.Equal(expected, sorted.Select(r => (r.Key, r.SignedWeight)));
        Assert.Equal(original.Select(r => (r.Key, r.SignedWeight)), input.Select(r => (r.Key, r.SignedWeight)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3000)]
    [InlineData(20000)]
    public void Constructor_AnyCapacity_SameMetricsAsDefault(int capacity)
    {
        // Fewer, as many and more examples than the capacity: the array grows past it as before.
        var rng = new Random(22);
        var (p, y, w) = RandomData(rng, 5000, GridScore, r => r.NextDouble() * 2);
        var withCapacity = new MetricsAccumulator(capacity);
        var plain = new MetricsAccumulator();
        for (var i = 0; i < p.Length; i++)
        {
            withCapacity.Add(p[i], y[i], w[i]);
            plain.Add(p[i], y[i], w[i]);
        }

        Assert.Equal(plain.Compute(), withCapacity.Compute());
        Assert.Equal(plain.ReliabilityTable(10, ReliabilityBinning.EqualMass), withCapacity.ReliabilityTable(10, ReliabilityBinning.EqualMass));
        Assert.Equal(plain.Suffix(1234).Compute(), withCapacity.Suffix(1234).Compute());
    }
}
