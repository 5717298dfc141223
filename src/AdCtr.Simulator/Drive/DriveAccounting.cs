using AdCtr.Learning.Evaluation;

namespace AdCtr.Simulator.Drive;

/// <summary>
/// The auction and the quality and money accounting of a drive, per shown request. One slot: the candidate with
/// the highest expected value bid × predicted ctr is shown, the advertiser pays its bid per click (CPC, first
/// price). Against the truth the simulator knows: the log loss and calibration of the shown ads' predictions, and
/// the regret of the ranking against an oracle that ranks by bid × true probability, in expected revenue (exact,
/// not sampled). Not thread-safe: the caller serialises <see cref="Record"/>.
/// </summary>
public sealed class DriveAccounting
{
    private readonly MetricsAccumulator _shown = new();
    private TruthSums _truth;
    private double _sumTrue;
    private double _crossEntropySum;
    private double _entropySum;
    private double _expectedRevenue;
    private double _oracleExpectedRevenue;
    private double _revenue;
    private long _oracleAgreements;

    /// <summary>Index of the candidate with the largest bid × ctr (the first of equal ones).</summary>
    public static int ChooseByExpectedValue(ReadOnlySpan<double> bids, ReadOnlySpan<double> ctr)
    {
        if (bids.Length == 0 || bids.Length != ctr.Length)
        {
            throw new ArgumentException("bids and ctr must have the same, positive length");
        }

        var best = 0;
        var bestValue = bids[0] * ctr[0];
        for (var i = 1; i < bids.Length; i++)
        {
            var value = bids[i] * ctr[i];
            if (value > bestValue)
            {
                best = i;
                bestValue = value;
            }
        }

        return best;
    }

    /// <summary>
    /// Records one request whose candidate <paramref name="shown"/> was shown: bids, the server's predictions and
    /// the true probabilities of every candidate, and whether the shown ad was clicked.
    /// </summary>
    public void Record(ReadOnlySpan<double> bids, ReadOnlySpan<double> predicted, ReadOnlySpan<double> truth, int shown, bool clicked)
    {
        if (predicted.Length != bids.Length || truth.Length != bids.Length || (uint)shown >= (uint)bids.Length)
        {
            throw new ArgumentException("bids, predicted and truth must have the same length and shown must index them");
        }

        var oracle = ChooseByExpectedValue(bids, truth);
        var p = predicted[shown];
        var q = truth[shown];
        var label = clicked ? 1 : 0;
        _shown.Add(p, label);
        _truth.Add(p, label, 1, q);
        _sumTrue += q;

        // Expected log loss of p when the click is drawn with probability q: the cross entropy
        // -(q ln p + (1 - q) ln(1 - p)); its floor, reached at p = q, is the entropy H(q).
        _crossEntropySum += (q * LogLoss.Of(p, 1)) + ((1 - q) * LogLoss.Of(p, 0));
        _entropySum += LogLoss.Entropy(q);

        _expectedRevenue += bids[shown] * q;
        _oracleExpectedRevenue += bids[oracle] * truth[oracle];
        if (bids[oracle] * truth[oracle] == bids[shown] * q)
        {
            _oracleAgreements++;
        }

        if (clicked)
        {
            _revenue += bids[shown];
        }
    }

    /// <summary>The figures so far.</summary>
    public DriveQuality Summarise()
    {
        var m = _shown.Compute();
        var t = _truth.ToMetrics();
        var n = _shown.Count;
        return new DriveQuality(
            n,
            (long)m.Clicks,
            n > 0 ? m.Clicks / n : double.NaN,
            m.LogLoss,
            t.OracleLogLoss,
            n > 0 ? _crossEntropySum / n : double.NaN,
            n > 0 ? _entropySum / n : double.NaN,
            _sumTrue > 0 ? m.MeanPrediction * n / _sumTrue : double.NaN,
            m.CalibrationRatio,
            n > 0 ? m.MeanPrediction : double.NaN,
            n > 0 ? _sumTrue / n : double.NaN,
            m.Auc,
            t.MeanAbsoluteError,
            _revenue,
            _expectedRevenue,
            _oracleExpectedRevenue,
            _oracleExpectedRevenue - _expectedRevenue,
            _oracleAgreements);
    }
}

/// <summary>Quality and money figures of the shown ads (see <see cref="DriveAccounting"/>); NaN where undefined.</summary>
/// <param name="Impressions">Shown ads (one per served request).</param>
/// <param name="Clicks">Drawn clicks of the shown ads (with their true probabilities).</param>
/// <param name="Ctr">Clicks / impressions.</param>
/// <param name="LogLoss">Server predictions against the drawn clicks.</param>
/// <param name="OracleLogLoss">True probabilities against the drawn clicks: the floor in expectation.</param>
/// <param name="ExpectedLogLoss">Mean cross entropy of the predictions against the true probabilities (exact, no sampling noise).</param>
/// <param name="OracleExpectedLogLoss">Mean entropy of the true probabilities: the floor of <paramref name="ExpectedLogLoss"/>.</param>
/// <param name="CalibrationVsTruth">Sum of predictions / sum of true probabilities.</param>
/// <param name="CalibrationVsClicks">Sum of predictions / clicks.</param>
/// <param name="MeanPrediction">Mean prediction of the shown ads.</param>
/// <param name="MeanTrueCtr">Mean true probability of the shown ads.</param>
/// <param name="Auc">AUC of the predictions against the drawn clicks.</param>
/// <param name="MeanAbsoluteError">Mean |prediction - true probability|.</param>
/// <param name="Revenue">Sum of the bids of clicked ads (CPC).</param>
/// <param name="ExpectedRevenue">Sum of bid × true probability of the shown ads.</param>
/// <param name="OracleExpectedRevenue">The same for the ads an oracle ranking by bid × true probability would have shown.</param>
/// <param name="Regret">OracleExpectedRevenue - ExpectedRevenue (>= 0).</param>
/// <param name="OracleAgreements">Requests where the shown ad's expected value equals the oracle's.</param>
public sealed record DriveQuality(
    long Impressions,
    long Clicks,
    double Ctr,
    double LogLoss,
    double OracleLogLoss,
    double ExpectedLogLoss,
    double OracleExpectedLogLoss,
    double CalibrationVsTruth,
    double CalibrationVsClicks,
    double MeanPrediction,
    double MeanTrueCtr,
    double Auc,
    double MeanAbsoluteError,
    double Revenue,
    double ExpectedRevenue,
    double OracleExpectedRevenue,
    double Regret,
    long OracleAgreements);
