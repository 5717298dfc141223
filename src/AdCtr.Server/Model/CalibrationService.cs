using AdCtr.Learning.Calibration;
using AdCtr.Learning.Evaluation;
using AdCtr.Server.Hosting;

namespace AdCtr.Server.Model;

/// <summary>
/// Keeps the most recent progressive (prediction, label, weight) triples in a ring and refits the calibrator
/// on them in the background every <see cref="CalibrationOptions.RefitEvery"/> examples (at most once per
/// <see cref="CalibrationOptions.MinRefitInterval"/>); the new calibrator
/// replaces the old one atomically (readers never see a half-built one). Isotonic regression by
/// pool-adjacent-violators or Platt scaling, as configured.
/// </summary>
internal sealed class CalibrationService
{
    private readonly CalibrationOptions _options;
    private readonly TimeProvider _time;
    private long _lastRefitTimestamp = long.MinValue;
    private readonly double[] _p;
    private readonly int[] _y;
    private readonly double[] _w;
    private long _written;
    private long _nextRefit;
    private int _refitting;
    private volatile ICalibrator _current = IdentityCalibrator.Instance;

    public CalibrationService(CalibrationOptions options, TimeProvider? time = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        var size = options.Kind == CalibrationKind.None ? 1 : options.Window;
        _p = new double[size];
        _y = new int[size];
        _w = new double[size];
        _nextRefit = Math.Max(options.MinExamples, options.RefitEvery);
    }

    public ICalibrator Current => _current;

    public long Fits { get; private set; }

    private long _refitsStarted;

    /// <summary>Background refits started by <see cref="Record"/> (tests).</summary>
    internal long RefitsStarted => Interlocked.Read(ref _refitsStarted);

    /// <summary>The background refit started last (tests wait for it).</summary>
    internal Task LastRefit { get; private set; } = Task.CompletedTask;

    public void Record(double p, float label, float weight)
    {
        if (_options.Kind == CalibrationKind.None)
        {
            return;
        }

        var n = Interlocked.Increment(ref _written);
        var slot = (int)((n - 1) % _p.Length);
        _p[slot] = p;
        _y[slot] = label > 0 ? 1 : 0;
        _w[slot] = weight;
        if (n >= Volatile.Read(ref _nextRefit) && Interlocked.CompareExchange(ref _refitting, 1, 0) == 0)
        {
            var last = Volatile.Read(ref _lastRefitTimestamp);
            if (last != long.MinValue && _time.GetElapsedTime(last) < _options.MinRefitInterval)
            {
                // Too soon after the last refit: look again after a sixteenth of RefitEvery more examples.
                Volatile.Write(ref _nextRefit, n + Math.Max(1, _options.RefitEvery / 16));
                Volatile.Write(ref _refitting, 0);
                return;
            }

            Volatile.Write(ref _lastRefitTimestamp, _time.GetTimestamp());
            Volatile.Write(ref _nextRefit, n + _options.RefitEvery);
            Interlocked.Increment(ref _refitsStarted);
            LastRefit = Task.Run(Refit);
        }
    }

    /// <summary>Fits a new calibrator on the current window now (also used by tests and the admin API).</summary>
    public void Refit()
    {
        try
        {
            var count = (int)Math.Min(Volatile.Read(ref _written), _p.Length);
            if (count < _options.MinExamples)
            {
                return;
            }

            var p = _p.AsSpan(0, count).ToArray();
            var y = _y.AsSpan(0, count).ToArray();
            var w = _w.AsSpan(0, count).ToArray();
            ICalibrator fitted = _options.Kind switch
            {
                CalibrationKind.Isotonic => IsotonicCalibrator.Fit(p, y, w),
                CalibrationKind.Platt => PlattCalibrator.Fit(p, y, w),
                _ => IdentityCalibrator.Instance,
            };
            _current = fitted;
            Fits++;
        }
        finally
        {
            Volatile.Write(ref _refitting, 0);
        }
    }

    /// <summary>Triples recorded since start (the window holds the last <see cref="CalibrationOptions.Window"/> of them).</summary>
    public long Recorded => Volatile.Read(ref _written);

    /// <summary>
    /// Adds the newest <paramref name="maxCount"/> of the window's (prediction, label, weight) triples to
    /// <paramref name="into"/> (the console's reliability diagram) and returns how many were added; like
    /// <see cref="Refit"/>, it reads beside the writers, so a triple written meanwhile may be torn. Nothing is
    /// kept when calibration is off.
    /// </summary>
    public int CopyWindowTo(MetricsAccumulator into, int maxCount)
    {
        if (_options.Kind == CalibrationKind.None)
        {
            return 0;
        }

        var written = Volatile.Read(ref _written);
        var count = (int)Math.Min(Math.Min(written, _p.Length), maxCount);
        var added = 0;
        for (var k = 0; k < count; k++)
        {
            // Slot of the triple written (k + 1)-th from last.
            var i = (int)((written - 1 - k) % _p.Length);
            var (p, w) = (_p[i], _w[i]);
            if (p is >= 0 and <= 1 && double.IsFinite(w) && w >= 0)
            {
                into.Add(p, _y[i], w);
                added++;
            }
        }

        return added;
    }

    /// <summary>Replaces the calibrator (snapshot restore).</summary>
    public void Set(ICalibrator calibrator) => _current = calibrator;
}
