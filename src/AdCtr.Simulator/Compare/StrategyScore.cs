using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Models;

namespace AdCtr.Simulator.Compare;

/// <summary>The metrics of one strategy over one time window.</summary>
/// <param name="Index">floor(start / window length).</param>
/// <param name="StartHours">Start of the window on the stream clock.</param>
/// <param name="EndHours">End of the window (exclusive).</param>
/// <param name="Metrics">Log loss, NE, AUC and calibration ratio (He et al. 2014) of the progressive predictions.</param>
/// <param name="Truth">Distance to the true click probabilities (NaN figures when the source has none).</param>
public readonly record struct WindowMetrics(long Index, double StartHours, double EndHours, BinaryMetrics Metrics, TruthMetrics Truth)
{
    /// <summary>Log loss minus the oracle's log loss: an estimate of the mean KL divergence from the truth.</summary>
    public double LogLossGap => Metrics.LogLoss - Truth.OracleLogLoss;
}

/// <summary>
/// Progressive scores of one strategy (Blum, Kalai and Langford 1999: each prediction is made before the
/// strategy learns the example): one series of windows per window length, and run totals. Per-window AUC is
/// exact; the total AUC and the reliability diagram come from a histogram of the predictions over
/// <see cref="Bins"/> logit bins of width 24/16384 (about 0.0015 logit; predictions beyond +-12 logit fall in
/// the end bins), so the total needs constant memory however long the run. Not thread-safe: one owner.
/// </summary>
public sealed class StrategyScore
{
    public const int Bins = 1 << 14;
    private const double LogitRange = 12.0;

    private readonly WindowSeries[] _series;
    private readonly double[] _binPositive = new double[Bins];
    private readonly double[] _binNegative = new double[Bins];
    private readonly double[] _binPredicted = new double[Bins];
    private TruthSums _truth;
    private long _examples;
    private double _weight;
    private double _clicks;
    private double _predicted;
    private double _logLoss;

    public StrategyScore(params double[] windowHours)
    {
        _series = new WindowSeries[windowHours.Length];
        for (var s = 0; s < windowHours.Length; s++)
        {
            _series[s] = new WindowSeries(windowHours[s]);
        }
    }

    /// <summary>Records one progressive prediction; <paramref name="truth"/> NaN when unknown.</summary>
    public void Add(double p, int label, double weight, double truth, double hours)
    {
        foreach (var series in _series)
        {
            series.Add(p, label, weight, truth, hours);
        }

        _examples++;
        _weight += weight;
        _clicks += weight * label;
        _predicted += weight * p;
        _logLoss += weight * LogLoss.Of(p, label);
        if (!double.IsNaN(truth))
        {
            _truth.Add(p, label, weight, truth);
        }

        var b = BinOf(p);
        if (label != 0)
        {
            _binPositive[b] += weight;
        }
        else
        {
            _binNegative[b] += weight;
        }

        _binPredicted[b] += weight * p;
    }

    /// <summary>Closes the open windows (end of the stream).</summary>
    public void Close()
    {
        foreach (var series in _series)
        {
            series.Close();
        }
    }

    /// <summary>The closed windows of series <paramref name="s"/> (in the order of the constructor's lengths).</summary>
    public IReadOnlyList<WindowMetrics> Windows(int s) => _series[s].Windows;

    /// <summary>Metrics over every scored example (AUC from the histogram, see the class remarks).</summary>
    public BinaryMetrics Total()
    {
        if (_examples == 0 || !(_weight > 0))
        {
            return BinaryMetrics.Empty with { Examples = _examples };
        }

        var ctr = _clicks / _weight;
        var logLoss = _logLoss / _weight;
        var entropy = LogLoss.Entropy(ctr);
        double below = 0, pairs = 0, positives = 0;
        for (var b = 0; b < Bins; b++)
        {
            pairs += _binPositive[b] * (below + (0.5 * _binNegative[b]));
            below += _binNegative[b];
            positives += _binPositive[b];
        }

        var auc = positives > 0 && below > 0 ? pairs / (positives * below) : double.NaN;
        return new BinaryMetrics(
            _examples,
            _weight,
            _clicks,
            logLoss,
            entropy > 0 ? logLoss / entropy : double.NaN,
            auc,
            _clicks > 0 ? _predicted / _clicks : double.NaN,
            _predicted / _weight,
            ctr);
    }

    public TruthMetrics TotalTruth() => _truth.ToMetrics();

    /// <summary>
    /// The reliability diagram over the whole run: <paramref name="groups"/> groups of about equal weight cut on
    /// the sorted predictions (histogram bins never split), each with its weighted mean prediction and click rate.
    /// </summary>
    public ReliabilityBin[] Reliability(int groups)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        var result = new List<ReliabilityBin>(groups);
        double cumulative = 0, mass = 0, predicted = 0, clicks = 0;
        var group = 0;
        var lowerBin = -1;
        for (var b = 0; b < Bins; b++)
        {
            var w = _binPositive[b] + _binNegative[b];
            if (w <= 0)
            {
                continue;
            }

            if (lowerBin < 0)
            {
                lowerBin = b;
            }

            mass += w;
            predicted += _binPredicted[b];
            clicks += _binPositive[b];
            cumulative += w;
            if (cumulative >= _weight * (group + 1) / groups || cumulative >= _weight)
            {
                result.Add(new ReliabilityBin(ProbabilityOfBin(lowerBin), ProbabilityOfBin(b + 1), 0, mass, predicted / mass, clicks / mass));
                group++;
                mass = predicted = clicks = 0;
                lowerBin = -1;
            }
        }

        return [.. result];
    }

    private static int BinOf(double p)
    {
        var logit = Math.Log(LogLoss.Clip(p) / (1 - LogLoss.Clip(p)));
        var b = (int)Math.Floor((logit + LogitRange) / (2 * LogitRange) * Bins);
        return Math.Clamp(b, 0, Bins - 1);
    }

    private static double ProbabilityOfBin(int b) => Glmix.Sigmoid((((double)b / Bins) * 2 * LogitRange) - LogitRange);

    /// <summary>Windows of one length: an exact accumulator for the open window, results for the closed ones.</summary>
    private sealed class WindowSeries(double hours)
    {
        private readonly MetricsAccumulator _open = new();
        private readonly List<WindowMetrics> _closed = [];
        private TruthSums _truth;
        private long _index = long.MinValue;

        public IReadOnlyList<WindowMetrics> Windows => _closed;

        public void Add(double p, int label, double weight, double truth, double at)
        {
            var index = (long)Math.Floor(at / hours);
            if (index != _index)
            {
                Close();
                _index = index;
            }

            _open.Add(p, label, weight);
            if (!double.IsNaN(truth))
            {
                _truth.Add(p, label, weight, truth);
            }
        }

        public void Close()
        {
            if (_index == long.MinValue || _open.Count == 0)
            {
                return;
            }

            _closed.Add(new WindowMetrics(_index, _index * hours, (_index + 1) * hours, _open.Compute(), _truth.ToMetrics()));
            _open.Reset();
            _truth = default;
        }
    }
}
