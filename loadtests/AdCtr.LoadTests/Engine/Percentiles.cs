using Perfolizer;
using Perfolizer.Mathematics.QuantileEstimators;

namespace AdCtr.LoadTests.Engine;

/// <summary>Latency summary of one set of samples, in milliseconds.</summary>
public sealed record LatencySummary(int Count, double Mean, double P50, double P90, double P99, double P999, double Max)
{
    public static readonly LatencySummary Empty = new(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
}

/// <summary>
/// Quantiles with Perfolizer's Hyndman-Fan type 7 estimator (linear interpolation between order statistics,
/// the default of R and NumPy; Hyndman and Fan, "Sample Quantiles in Statistical Packages", 1996), computed on
/// every recorded sample, so the result is exact for the sample, not a sketch.
/// </summary>
public static class Percentiles
{
    private static readonly double[] Probabilities = [0.5, 0.9, 0.99, 0.999];

    public static LatencySummary Summarise(double[] valuesMs)
    {
        ArgumentNullException.ThrowIfNull(valuesMs);
        if (valuesMs.Length == 0)
        {
            return LatencySummary.Empty;
        }

        var sample = new Sample(valuesMs);
        var q = HyndmanFanQuantileEstimator.Type7.Quantiles(sample, Perfolizer.Mathematics.Common.Probability.ToProbabilities(Probabilities));
        var max = double.MinValue;
        var sum = 0.0;
        foreach (var v in valuesMs)
        {
            sum += v;
            max = Math.Max(max, v);
        }

        return new LatencySummary(valuesMs.Length, sum / valuesMs.Length, q[0], q[1], q[2], q[3], max);
    }
}
