using AdCtr.Learning.Evaluation;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.ConsolePage;

/// <summary>
/// The reliability (calibration) table of the recent progressive predictions: the newest
/// <see cref="ConsoleOptions.ReliabilityExamples"/> (prediction, label, weight) triples of the calibration service's
/// window (the last <see cref="CalibrationOptions.Window"/>), cut into bins of
/// equal weight (CTRs crowd into the first percent of [0, 1], so equal-width bins would leave one full bin),
/// with the window's log loss, NE, AUC and calibration ratio. The predictions are the model's raw output
/// before the calibrator (what the progressive statistics measure), scored before each example was learned.
/// Computing sorts them (50,000 by default: 40-80 ms measured on the 2-core build machine at a load average of
/// 25, 160-240 ms for 200,000), so a result is reused while nothing was recorded, and at most once per
/// <see cref="ConsoleOptions.ReliabilityMinInterval"/> otherwise, however many pages are open.
/// </summary>
internal sealed class ReliabilityReader(CtrEngine engine, TimeProvider time, IOptions<ConsoleOptions> options, IOptions<CalibrationOptions> calibration)
{
    public const int DefaultBins = 10;
    public const int MaxBins = 50;

    private readonly Lock _lock = new();
    private readonly MetricsAccumulator _window = new();
    private ReliabilityResponse? _last;
    private int _lastBins;
    private long _lastRecorded = -1;
    private long _lastTimestamp;

    public ReliabilityResponse Read(int bins)
    {
        lock (_lock)
        {
            var recorded = engine.Calibration.Recorded;
            var now = time.GetTimestamp();
            if (_last is not null && bins == _lastBins
                && (recorded == _lastRecorded || time.GetElapsedTime(_lastTimestamp, now) < options.Value.ReliabilityMinInterval))
            {
                return _last;
            }

            _window.Reset();
            var examples = engine.Calibration.CopyWindowTo(_window, options.Value.ReliabilityExamples);
            var metrics = _window.Compute();
            var table = _window.ReliabilityTable(bins, ReliabilityBinning.EqualMass);
            var rows = new ReliabilityBinDocument[table.Length];
            for (var i = 0; i < table.Length; i++)
            {
                var b = table[i];
                rows[i] = new ReliabilityBinDocument(b.Lower, b.Upper, b.Count, b.WeightSum, Finite(b.MeanPredicted), Finite(b.ObservedRate));
            }

            var kind = calibration.Value.Kind;
            _last = new ReliabilityResponse(
                recorded,
                kind == CalibrationKind.None ? 0 : Math.Min(calibration.Value.Window, options.Value.ReliabilityExamples),
                examples,
                time.GetUtcNow(),
                Finite(metrics.LogLoss),
                Finite(metrics.NormalizedEntropy),
                Finite(metrics.Auc),
                Finite(metrics.CalibrationRatio),
                Finite(metrics.MeanPrediction),
                Finite(metrics.Ctr),
                rows);
            _lastBins = bins;
            _lastRecorded = recorded;
            _lastTimestamp = now;
            return _last;
        }
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}

/// <summary>One bin of equal weight: its prediction range, examples, weight, mean prediction and observed click rate.</summary>
internal sealed record ReliabilityBinDocument(double Lower, double Upper, long Examples, double Weight, double? MeanPrediction, double? ObservedRate);

/// <summary>
/// What <c>GET /v1/models/reliability</c> returns: <paramref name="Recorded"/> progressive predictions since start,
/// the last <paramref name="Examples"/> of them (at most <paramref name="WindowCapacity"/>: the calibration window or
/// <c>AdCtr:Console:ReliabilityExamples</c> if smaller, 0 when calibration is off) summarised and binned.
/// </summary>
internal sealed record ReliabilityResponse(
    long Recorded,
    int WindowCapacity,
    int Examples,
    DateTimeOffset ComputedAt,
    double? LogLoss,
    double? NormalizedEntropy,
    double? Auc,
    double? CalibrationRatio,
    double? MeanPrediction,
    double? Ctr,
    ReliabilityBinDocument[] Bins);
