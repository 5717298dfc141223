namespace AdCtr.Learning.Evaluation;

/// <summary>How <see cref="MetricsAccumulator.ReliabilityTable"/> cuts the prediction range into bins.</summary>
public enum ReliabilityBinning
{
    /// <summary>Bins of equal width on [0, 1]; bin i covers [i/bins, (i+1)/bins), the last one includes 1.</summary>
    EqualWidth,

    /// <summary>
    /// Bins of (about) equal example weight, cut on the sorted predictions. Better suited to CTRs, which
    /// crowd into the first percent of [0, 1]. Tied predictions always share a bin, so a bin may hold more
    /// than its share and empty bins are dropped.
    /// </summary>
    EqualMass,
}

/// <summary>One row of a reliability (calibration) table.</summary>
/// <param name="Lower">Equal-width: the lower bin edge. Equal-mass: the smallest prediction in the bin.</param>
/// <param name="Upper">Equal-width: the upper bin edge. Equal-mass: the largest prediction in the bin.</param>
/// <param name="Count">Number of examples in the bin.</param>
/// <param name="WeightSum">Sum of their weights (the bin mass).</param>
/// <param name="MeanPredicted">Weighted mean prediction; NaN for a bin without weight.</param>
/// <param name="ObservedRate">Weighted click rate; NaN for a bin without weight.</param>
public readonly record struct ReliabilityBin(
    double Lower,
    double Upper,
    long Count,
    double WeightSum,
    double MeanPredicted,
    double ObservedRate);
