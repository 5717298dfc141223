using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Tests;

public class PercentilesTests
{
    [Fact]
    public void Summarise_1To1000Shuffled_MatchesType7OnTheSortedValues()
    {
        var values = Enumerable.Range(1, 1000).Select(i => (double)i).ToArray();
        new Random(7).Shuffle(values);

        var s = Percentiles.Summarise(values);

        // Type 7: h = (n - 1) p + 1, x[floor h] + frac(h) (x[floor h + 1] - x[floor h]) with x sorted, 1-based.
        // n = 1000, x[k] = k: p50 h = 500.5, p90 h = 900.1, p99 h = 990.01, p99.9 h = 999.001, so q = h.
        Assert.Equal(500.5, s.P50, 9);
        Assert.Equal(900.1, s.P90, 9);
        Assert.Equal(990.01, s.P99, 9);
        Assert.Equal(999.001, s.P999, 9);
        Assert.Equal(1000, s.Max);
        Assert.Equal(500.5, s.Mean, 9);
        Assert.Equal(1000, s.Count);
    }

    [Fact]
    public void Summarise_FourValues_InterpolatesBetweenOrderStatistics()
    {
        var s = Percentiles.Summarise([40, 10, 30, 20]);

        // Sorted 10, 20, 30, 40. p50: h = 2.5 -> 25. p90: h = 3.7 -> 30 + 0.7 * 10 = 37.
        // p99: h = 3.97 -> 39.7. p99.9: h = 3.997 -> 39.97.
        Assert.Equal(25, s.P50, 9);
        Assert.Equal(37, s.P90, 9);
        Assert.Equal(39.7, s.P99, 9);
        Assert.Equal(39.97, s.P999, 9);
        Assert.Equal(40, s.Max);
    }

    [Fact]
    public void Summarise_Empty_IsNaN()
    {
        var s = Percentiles.Summarise([]);

        Assert.Equal(0, s.Count);
        Assert.True(double.IsNaN(s.P99));
    }

    [Fact]
    public void StepStatsFrom_MixedOutcomes_SplitsErrorsByKindAndTimesOnlySuccesses()
    {
        // Frequency 1000: one tick is 1 ms. Latencies of the 3 successes: 1, 2, 3 ms; the 500 and the timeout are not timed.
        var samples = new StageSamples(Simulation.Inject(5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), 1000, 1000,
            [200, 200, 500, Outcome.Timeout, 204], [1, 2, 99, 2000, 3], [1, 2, 99, 2000, 3], [0, 0, 0, 0, 0]);

        var stats = StepStats.From(samples, "step");

        Assert.Equal(5, stats.Requests);
        Assert.Equal(2, stats.Errors);
        Assert.Equal(0.4, stats.ErrorRate, 12);
        Assert.Equal(3.0, stats.AchievedRate, 12);
        Assert.Equal(5.0, stats.OfferedRate, 12);
        Assert.Equal(new Dictionary<string, int> { ["http-500"] = 1, ["timeout"] = 1 }, stats.ErrorsByKind);
        Assert.Equal(3, stats.Latency.Count);
        Assert.Equal(2, stats.Latency.P50, 12);
        Assert.Equal(3, stats.Latency.Max, 12);
        Assert.Equal("Inject(5, 1s, 1s)", stats.Simulation);
    }
}
