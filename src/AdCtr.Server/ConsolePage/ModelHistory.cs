using AdCtr.Server.Model;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.ConsolePage;

/// <summary>
/// A short history of the model for the console page: every <see cref="ConsoleOptions.HistoryInterval"/> of the
/// host's <see cref="TimeProvider"/> it samples the model version and the progressive statistics into a ring of
/// <see cref="ConsoleOptions.HistoryLength"/> samples. Each sample has the cumulative figures since start and
/// those of the interval since the previous sample (differences of the progressive sums), so a recent change
/// shows even after millions of examples. Memory and the cost of a read are bounded by the ring.
/// </summary>
internal sealed class ModelHistory : IHostedService, IDisposable
{
    private readonly CtrEngine _engine;
    private readonly TimeProvider _time;
    private readonly ConsoleOptions _options;
    private readonly HistorySample[] _ring;
    private readonly Lock _lock = new();
    private int _count;
    private int _next;
    private ITimer? _timer;
    private ProgressiveStats? _previousStats;
    private long _previousVersion;
    private DateTimeOffset _previousTime;

    public ModelHistory(CtrEngine engine, TimeProvider time, IOptions<ConsoleOptions> options)
    {
        _engine = engine;
        _time = time;
        _options = options.Value;
        _ring = new HistorySample[_options.HistoryLength];
    }

    public TimeSpan Interval => _options.HistoryInterval;

    public int Capacity => _ring.Length;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after the engine and durability services: the first sample sees the recovered model.
        Sample();
        _timer = _time.CreateTimer(static s => ((ModelHistory)s!).Sample(), this, _options.HistoryInterval, _options.HistoryInterval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
    }

    /// <summary>Takes one sample now (the timer's callback; overlapping calls are skipped, not queued).</summary>
    public void Sample()
    {
        if (!_lock.TryEnter())
        {
            return;
        }

        try
        {
            var now = _time.GetUtcNow();
            var version = _engine.ExamplesLearned;
            var stats = _engine.GlobalStatistics();
            double? rate = null;
            ProgressiveStats? interval = null;
            if (_previousStats is { } previous && version >= _previousVersion && stats.Examples >= previous.Examples)
            {
                var seconds = (now - _previousTime).TotalSeconds;
                rate = seconds > 0 ? (version - _previousVersion) / seconds : null;
                interval = new ProgressiveStats
                {
                    Examples = stats.Examples - previous.Examples,
                    Weight = stats.Weight - previous.Weight,
                    Clicks = stats.Clicks - previous.Clicks,
                    SumPredicted = stats.SumPredicted - previous.SumPredicted,
                    LogLossSum = stats.LogLossSum - previous.LogLossSum,
                };
            }

            // A version that went down (a reload from an older snapshot) starts the differences afresh.
            _ring[_next] = new HistorySample(
                now,
                version,
                rate,
                stats.Examples,
                Finite(stats.LogLoss),
                Finite(stats.NormalizedEntropy),
                Finite(stats.CalibrationRatio),
                interval?.Examples ?? 0,
                interval is null ? null : Finite(interval.LogLoss),
                interval is null ? null : Finite(interval.NormalizedEntropy),
                interval is null ? null : Finite(interval.CalibrationRatio));
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
            _previousStats = stats;
            _previousVersion = version;
            _previousTime = now;
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>The newest <paramref name="limit"/> samples (at most the ring), oldest first.</summary>
    public HistorySample[] Read(int limit)
    {
        lock (_lock)
        {
            var n = Math.Min(limit, _count);
            var result = new HistorySample[n];
            var start = (_next - n + _ring.Length) % _ring.Length;
            for (var i = 0; i < n; i++)
            {
                result[i] = _ring[(start + i) % _ring.Length];
            }

            return result;
        }
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}

/// <summary>One sample of <c>GET /v1/models/history</c>.</summary>
/// <param name="Time">When it was taken (host clock).</param>
/// <param name="Version">Examples learned (the model version).</param>
/// <param name="ExamplesPerSecond">Examples learned per second since the previous sample; null for the first one or after a reload.</param>
/// <param name="Examples">Examples in the progressive statistics (cumulative; may differ from the version after a restore).</param>
/// <param name="LogLoss">Cumulative progressive log loss (natural log).</param>
/// <param name="NormalizedEntropy">Cumulative progressive NE.</param>
/// <param name="CalibrationRatio">Cumulative sum of predictions / clicks.</param>
/// <param name="IntervalExamples">Examples learned since the previous sample.</param>
/// <param name="IntervalLogLoss">Progressive log loss of those examples; null without any.</param>
/// <param name="IntervalNormalizedEntropy">Their NE (against their own click rate); null without clicks.</param>
/// <param name="IntervalCalibrationRatio">Their sum of predictions / clicks; null without clicks.</param>
internal sealed record HistorySample(
    DateTimeOffset Time,
    long Version,
    double? ExamplesPerSecond,
    long Examples,
    double? LogLoss,
    double? NormalizedEntropy,
    double? CalibrationRatio,
    long IntervalExamples,
    double? IntervalLogLoss,
    double? IntervalNormalizedEntropy,
    double? IntervalCalibrationRatio);

/// <summary>What <c>GET /v1/models/history</c> returns.</summary>
internal sealed record ModelHistoryResponse(double IntervalSeconds, int Capacity, HistorySample[] Samples);
