namespace AdCtr.Learning.Evaluation;

/// <summary>
/// Distance between the predictions and the true click probabilities, available in simulation only.
/// All figures are weighted by the example weights; NaN when no example carried a truth.
/// </summary>
/// <param name="Examples">Number of examples added with a true probability.</param>
/// <param name="WeightSum">Sum of their weights.</param>
/// <param name="MeanAbsoluteError">Weighted mean of |p - trueP|.</param>
/// <param name="Rmse">Square root of the weighted mean of (p - trueP)^2.</param>
/// <param name="OracleLogLoss">Weighted average log loss of trueP itself: the floor no model can beat in expectation.</param>
public readonly record struct TruthMetrics(
    long Examples,
    double WeightSum,
    double MeanAbsoluteError,
    double Rmse,
    double OracleLogLoss)
{
    /// <summary>No example with a truth.</summary>
    public static TruthMetrics Empty { get; } = new(0, 0, double.NaN, double.NaN, double.NaN);
}

/// <summary>Running sums behind <see cref="TruthMetrics"/>.</summary>
public struct TruthSums
{
    public long Examples;
    public double WeightSum;
    public double AbsoluteErrorSum;
    public double SquaredErrorSum;
    public double OracleLogLossSum;

    public void Add(double p, int label, double weight, double trueP)
    {
        var d = p - trueP;
        Examples++;
        WeightSum += weight;
        AbsoluteErrorSum += weight * Math.Abs(d);
        SquaredErrorSum += weight * d * d;
        OracleLogLossSum += weight * LogLoss.Of(trueP, label);
    }

    public readonly TruthMetrics ToMetrics()
    {
        if (!(WeightSum > 0))
        {
            return TruthMetrics.Empty with { Examples = Examples };
        }

        return new TruthMetrics(
            Examples,
            WeightSum,
            AbsoluteErrorSum / WeightSum,
            Math.Sqrt(SquaredErrorSum / WeightSum),
            OracleLogLossSum / WeightSum);
    }
}
