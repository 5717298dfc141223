using Perfolizer;
using Perfolizer.Mathematics.Common;
using Perfolizer.Mathematics.QuantileEstimators;

namespace AdCtr.Simulator.Drive;

/// <summary>Everything a drive measured.</summary>
public sealed record DriveResult
{
    public required string Scenario { get; init; }

    public required ulong Seed { get; init; }

    public required DriveSettings Settings { get; init; }

    /// <summary>From the start to the last predict answer.</summary>
    public required double Seconds { get; init; }

    /// <summary>From the start to the last events post.</summary>
    public required double SecondsWithEvents { get; init; }

    /// <summary>True when the scenario ran out of requests before the duration or the bound.</summary>
    public required bool WorldEnded { get; init; }

    /// <summary>Predict requests sent (= <see cref="Served"/> + the errors).</summary>
    public required long Sent { get; init; }

    /// <summary>Predict requests answered with 200 and one prediction per candidate.</summary>
    public required long Served { get; init; }

    /// <summary>Failed predict requests by kind: <c>http_NNN</c>, <c>timeout</c>, <c>transport</c>, <c>bad_response</c>, <c>cancelled</c>.</summary>
    public required IReadOnlyDictionary<string, long> Errors { get; init; }

    /// <summary>Of served requests, from their due time (open loop) to the end of the answer.</summary>
    public required DriveLatency Latency { get; init; }

    public required DriveQuality Quality { get; init; }

    /// <summary>Impression events posted (one per served request).</summary>
    public required long ImpressionsSent { get; init; }

    /// <summary>Clicks posted when due (their scaled delay after the impression).</summary>
    public required long ClicksOnTime { get; init; }

    /// <summary>Clicks not yet due at the end of the run, posted then (inside the window all the same).</summary>
    public required long ClicksFlushedEarly { get; init; }

    /// <summary>Clicks whose scaled delay reached the attribution window: not posted.</summary>
    public required long ClicksBeyondWindow { get; init; }

    /// <summary>Clicks posted.</summary>
    public long ClicksSent => ClicksOnTime + ClicksFlushedEarly;

    public required long EventPosts { get; init; }

    public required long EventPostFailures { get; init; }

    /// <summary>Events the server accepted (sum of the <c>accepted</c> of its answers).</summary>
    public required long EventsAccepted { get; init; }

    /// <summary>Positive examples the joiner made from them.</summary>
    public required long EventPositives { get; init; }

    /// <summary>Negative examples the joiner made at once (fake-negative policy; under <c>wait</c> negatives come later, at expiry).</summary>
    public required long EventNegatives { get; init; }

    /// <summary>Events the server rejected, by its reason.</summary>
    public required IReadOnlyDictionary<string, long> EventsRejected { get; init; }

    /// <summary>Events of posts that failed, by failure.</summary>
    public required IReadOnlyDictionary<string, long> EventsFailed { get; init; }

    public long ErrorCount
    {
        get
        {
            long n = 0;
            foreach (var e in Errors.Values)
            {
                n += e;
            }

            return n;
        }
    }
}

/// <summary>Latency quantiles in milliseconds; NaN when nothing was served.</summary>
public sealed record DriveLatency(int Count, double Mean, double P50, double P90, double P99, double Max)
{
    /// <summary>
    /// Quantiles with Perfolizer's Hyndman-Fan type 7 estimator (linear interpolation between order statistics;
    /// Hyndman and Fan, "Sample Quantiles in Statistical Packages", 1996), the estimator adctr-load uses, on every
    /// sample (exact for the sample).
    /// </summary>
    public static DriveLatency Of(double[] valuesMs)
    {
        ArgumentNullException.ThrowIfNull(valuesMs);
        if (valuesMs.Length == 0)
        {
            return new DriveLatency(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        var q = HyndmanFanQuantileEstimator.Type7.Quantiles(new Sample(valuesMs), Probability.ToProbabilities([0.5, 0.9, 0.99]));
        double sum = 0, max = double.MinValue;
        foreach (var v in valuesMs)
        {
            sum += v;
            max = Math.Max(max, v);
        }

        return new DriveLatency(valuesMs.Length, sum / valuesMs.Length, q[0], q[1], q[2], max);
    }
}
