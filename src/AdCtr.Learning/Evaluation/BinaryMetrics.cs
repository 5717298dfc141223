namespace AdCtr.Learning.Evaluation;

/// <summary>
/// Quality figures of a set of probabilistic binary predictions, all weighted by the example weights.
/// Log loss, normalized entropy and calibration follow He et al., "Practical Lessons from Predicting Clicks
/// on Ads at Facebook", ADKDD 2014; AUC is the Mann-Whitney statistic with tied scores counting one half.
/// </summary>
/// <param name="Examples">Number of examples added (including those with weight 0).</param>
/// <param name="WeightSum">Sum of the example weights.</param>
/// <param name="Clicks">Weighted number of positives.</param>
/// <param name="LogLoss">Weighted average log loss, probabilities clipped to [1e-15, 1 - 1e-15]; NaN when WeightSum is 0.</param>
/// <param name="NormalizedEntropy">LogLoss / H(Ctr); NaN when Ctr is 0, 1 or undefined.</param>
/// <param name="Auc">Weighted Mann-Whitney AUC; NaN when one class has no weight.</param>
/// <param name="CalibrationRatio">Sum of weighted predictions / weighted clicks; NaN when there are no clicks.</param>
/// <param name="MeanPrediction">Weighted mean prediction; NaN when WeightSum is 0.</param>
/// <param name="Ctr">Weighted empirical click rate Clicks / WeightSum; NaN when WeightSum is 0.</param>
public readonly record struct BinaryMetrics(
    long Examples,
    double WeightSum,
    double Clicks,
    double LogLoss,
    double NormalizedEntropy,
    double Auc,
    double CalibrationRatio,
    double MeanPrediction,
    double Ctr)
{
    /// <summary>The metrics of an empty set: counts 0, every ratio NaN.</summary>
    public static BinaryMetrics Empty { get; } =
        new(0, 0, 0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
}
